"""The tiny test model: a small random configuration of the official architecture (tools/configs/tiny.json),
priors and VQ-VAE (vqvae.py) alike, exported with the same exporter as the official checkpoints,
plus the PyTorch reference fixture of tests/model-graphs.test.ts."""
import hashlib
import json
import os
import random
from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from .export import example_labels, example_sequence, self_check, write_model_folder
from .hparams import prior_hps, vqvae_hps
from .init import random_vqvae, randomise
from .prior import SimplePrior
from .vqvae import VQVAE, export_vqvae_decoders, export_vqvae_encoders, measured_receptive_field, receptive_field

LYRIC_LINES = [
    'Hello tiny world,\nsing along with me!',
    'Random weights (and [random] words): 1, 2, 3...',
]


def level_hps(cfg: dict, p: dict) -> dict:
    """A config's prior entry (official names, plus hop_fraction) completed with the model-wide facts."""
    lab = cfg['labels']
    d = {k: v for k, v in p.items() if k != 'hop_fraction'}
    d.setdefault('y_bins', [len(lab['genres']), len(lab['artists'])])
    d.setdefault('max_bow_genre_size', lab['max_bow_genre_size'])
    d.setdefault('min_duration', lab['min_duration'])
    d.setdefault('max_duration', lab['max_duration'])
    d.setdefault('n_vocab', len(cfg['lyrics']['vocab']) + 1 if cfg.get('lyrics') else 0)
    d.setdefault('sr', cfg['sr'])
    return prior_hps(d)


def build(cfg: dict) -> Tuple[VQVAE, List[SimplePrior]]:
    """The priors (randomised by init.randomise) and the VQ-VAE (official hps cfg['vqvae'], init.random_vqvae
    as the exporter's), all from cfg['seed'], then the trained weights of cfg['weights'] (a path) when the
    config names them."""
    torch.manual_seed(cfg['seed'])
    vq = vqvae_hps(cfg['vqvae'])
    priors = [SimplePrior(level_hps(cfg, p), vq) for p in sorted(cfg['priors'], key=lambda p: p['level'])]
    holder = nn.ModuleList(priors)
    randomise(holder, cfg['init'], torch.Generator().manual_seed(cfg['seed']))
    holder.eval()
    vqvae = random_vqvae(cfg['vqvae'], cfg['seed'], cfg['init'])
    if cfg.get('weights'):  # trained weights (tools/train): {'vqvae': state dict, 'priors': [state dict per level]}
        weights = torch.load(cfg['weights'])
        vqvae.load_state_dict(weights['vqvae'])
        for prior, state in zip(priors, weights['priors']):
            prior.load_state_dict(state)
    return vqvae, priors


def export_decoders(vqvae: VQVAE, out_dir: str, opset: int, log=print) -> List[dict]:
    """vqvae.export_vqvae_decoders (marginTokens = the analytic receptive field), after checking
    the analytic field against perturbations of random token sequences (several trials per level)."""
    for level in range(vqvae.levels):
        analytic = receptive_field(vqvae, level)
        measured = measured_receptive_field(vqvae, level, trials=4, seed=100 + level)
        if measured[0] > analytic[0] or measured[1] > analytic[1]:
            raise RuntimeError(f'decoder {level}: measured receptive field {measured} beyond the analytic {analytic}')
        log(f'decoder {level}: hop {vqvae.hop_lengths[level]}, receptive field -{analytic[0]}/+{analytic[1]} tokens '
            f'(analytic), -{measured[0]}/+{measured[1]} (measured)')
    entries = export_vqvae_decoders(vqvae, out_dir, opset)
    for e in entries:
        log(f'decoder {e["level"]}: marginTokens {e["marginTokens"]}')
    return entries


# ----------------------------------------------------------------------------------------------
# Fixture


def _round(x: float) -> float:
    return float(f'{x:.8g}')


def _rows(t: torch.Tensor) -> list:
    if t.dim() == 1:
        return [_round(v) for v in t.tolist()]
    return [_rows(s) for s in t]


def level_fixture(prior: SimplePrior, hop: int, top_hop: int, vocab: str, rng: random.Random) -> Tuple[dict, dict]:
    b = 2
    labels = example_labels(prior, hop, top_hop, b, rng, LYRIC_LINES, vocab)
    upper = None
    if prior.x_cond:
        upper = torch.tensor([[rng.randrange(0, prior.bins) for _ in range(prior.n_ctx // prior.cond_downsample)]
                              for _ in range(b)], dtype=torch.int64)
    n = prior.seq_len
    seq = example_sequence(prior, labels, n, rng)
    with torch.no_grad():
        full = prior.full_logits(labels, upper, seq)  # [B, N, V], the official whole-window forward
    err1, err2 = self_check(prior, labels, upper, seq, full)
    if err1 > 1e-5 or err2 > 1e-5:
        raise RuntimeError(f'level {prior.level}: cached steps differ from the full forward ({err1}, {err2})')
    pre = prior.n_tokens if prior.single_enc_dec else 0
    positions = sorted(set([0, 1, 15, 16, 17, 31, 33, 47, 63, n - 2, n - 1] + [pre, pre + 1, pre + 17]))
    positions = [p for p in positions if 0 <= p < n]
    stats = {'logit_std': float(full.std()), 'logit_max_abs': float(full.abs().max()), 'self_check': (err1, err2)}
    return {
        'level': prior.level,
        'batch': b,
        'labels': labels.tolist(),
        'upperTokens': upper.tolist() if upper is not None else None,
        # The window's input sequence (lyric prefix and shifted music ids for prefix models);
        # position p is predicted from tokens[0 .. p-1].
        'tokens': seq.tolist(),
        'positions': positions,
        'logits': [_rows(full[:, p]) for p in positions],
    }, stats


def decoder_fixture(vqvae: VQVAE, level: int, rng: random.Random) -> dict:
    bins = vqvae.l_bins
    tokens = torch.tensor([[rng.randrange(0, bins) for _ in range(10)] for _ in range(2)], dtype=torch.int64)
    with torch.no_grad():
        audio = vqvae.decode_level(tokens, level)
    return {'level': level, 'tokens': tokens.tolist(), 'audio': _rows(audio)}


def manifest_labels(lab: dict) -> dict:
    return {
        'version': lab['version'],
        'artists': {a: i for i, a in enumerate(lab['artists'])},
        'genres': {g: i for i, g in enumerate(lab['genres'])},
        'maxGenreWords': lab['max_bow_genre_size'],
        'minDurationSeconds': lab['min_duration'],
        'maxDurationSeconds': lab['max_duration'],
    }


def make_model(cfg: dict, out_dir: str, fixture_path: Optional[str], log=print) -> dict:
    vqvae, priors = build(cfg)
    for p in priors:
        assert p.level == len(priors) - 1 or p.n_ctx % p.cond_downsample == 0
    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(out_dir):  # a fresh folder: no stale graphs or data files
        if name.endswith('.onnx') or name.endswith('.data') or name == 'manifest.json':
            os.remove(os.path.join(out_dir, name))
    lyrics = {'vocab': cfg['lyrics']['vocab'], 'maxChars': cfg['lyrics']['max_chars']} if cfg.get('lyrics') else None
    hop_fractions = [p['hop_fraction'] for p in sorted(cfg['priors'], key=lambda p: p['level'])]
    manifest_bytes = write_model_folder(
        priors, cfg['vqvae'], out_dir, model_id=cfg['model_id'], sample_rate=cfg['sr'],
        labels=manifest_labels(cfg['labels']), lyrics=lyrics, hop_fractions=hop_fractions,
        prefill_chunk=cfg['prefill_chunk'], opset=cfg['opset_version'],
        export_vqvae=lambda d: {'decoders': export_decoders(vqvae, d, cfg['opset_version'], log),
                                'encoders': export_vqvae_encoders(vqvae, d, cfg['opset_version'])},
        contract_version=cfg['contract_version'], fp16_graphs=cfg.get('fp16_graphs', False), log=lambda *a: None)
    if fixture_path:
        rng = random.Random(cfg['seed'] + 1)
        vocab = cfg['lyrics']['vocab'] if cfg.get('lyrics') else ''
        level_fx = []
        for prior in priors:
            fx, stats = level_fixture(prior, vqvae.hop_lengths[prior.level], vqvae.hop_lengths[-1], vocab, rng)
            log(f'level {prior.level}: logits std {stats["logit_std"]:.3f}, max |logit| {stats["logit_max_abs"]:.3f}, '
                f'cached vs full {stats["self_check"][0]:.1e} / {stats["self_check"][1]:.1e}')
            level_fx.append(fx)
        dec_fx = [decoder_fixture(vqvae, level, rng) for level in range(vqvae.levels)]
        fixture = {
            'modelId': cfg['model_id'],
            'manifestSha256': hashlib.sha256(manifest_bytes).hexdigest(),
            'levels': level_fx,
            'decoders': dec_fx,
        }
        os.makedirs(os.path.dirname(fixture_path), exist_ok=True)
        with open(fixture_path, 'w', encoding='utf-8') as f:
            json.dump(fixture, f, separators=(',', ':'))
            f.write('\n')
    return json.loads(manifest_bytes)
