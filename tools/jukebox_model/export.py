"""Builds the model family from a config, exports the ONNX graphs of docs/model-contract.md and
writes manifest.json plus the PyTorch reference fixture used by tests/model-graphs.test.ts."""
import hashlib
import io
import json
import os
import random
from typing import Dict, List, Optional, Sequence, Tuple

import onnx
import torch
import torch.nn as nn

from .init import randomise
from .prior import SimplePrior
from .vqvae import VQVAE, receptive_field_tokens


# ----------------------------------------------------------------------------------------------
# Model construction


class JukeboxFamily(nn.Module):
    """VQ-VAE decoders and one prior per level (index = level, 0 = bottom)."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.cfg = cfg
        vq = cfg['vqvae']
        self.vqvae = VQVAE(vq)
        top = vq['levels'] - 1
        n_lyric_bins = len(cfg['lyrics']['vocab']) + 1 if cfg.get('lyrics') else 0
        priors = sorted(cfg['priors'], key=lambda p: p['level'])
        assert [p['level'] for p in priors] == list(range(vq['levels'])), 'one prior per VQ-VAE level'
        self.priors = nn.ModuleList(
            SimplePrior(p, vq, cfg['labels'], n_lyric_bins, cfg['sr'], top) for p in priors)


def build_family(cfg: dict) -> JukeboxFamily:
    torch.manual_seed(cfg['seed'])
    family = JukeboxFamily(cfg)
    gen = torch.Generator().manual_seed(cfg['seed'])
    randomise(family, cfg['init'], gen)
    family.eval()
    return family


# ----------------------------------------------------------------------------------------------
# Graph wrappers (the contract's inputs and outputs)


class ConditionerGraph(nn.Module):
    def __init__(self, prior: SimplePrior):
        super().__init__()
        self.prior = prior

    def forward(self, labels: torch.Tensor, upper_tokens: Optional[torch.Tensor] = None):
        y_cond, x_cond, encoder_kv = self.prior.get_cond(labels, upper_tokens)
        if encoder_kv is not None:
            return y_cond, x_cond, encoder_kv
        return y_cond, x_cond


class StepGraph(nn.Module):
    def __init__(self, prior: SimplePrior):
        super().__init__()
        self.prior = prior
        self.has_encoder = prior.n_tokens > 0

    def forward(self, tokens, position, x_cond, y_cond, *rest):
        rest = list(rest)
        encoder_kv = rest.pop(0) if self.has_encoder else None
        past = [(rest[2 * i], rest[2 * i + 1]) for i in range(len(rest) // 2)]
        logits, presents = self.prior.prior.step(tokens, position, x_cond, y_cond, encoder_kv, past)
        out = [logits]
        for k, v in presents:
            out.extend([k, v])
        return tuple(out)


class DecoderGraph(nn.Module):
    def __init__(self, vqvae: VQVAE, level: int):
        super().__init__()
        self.vqvae = vqvae
        self.level = level

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.vqvae.decode_level(tokens, self.level)


def _export(module: nn.Module, args: tuple, input_names: List[str], output_names: List[str],
            dynamic_axes: Dict[str, Dict[int, str]], opset: int) -> bytes:
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, args, buf, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True,
                          export_params=True, keep_initializers_as_inputs=False)
    model = onnx.load_from_string(buf.getvalue())
    got_in = [i.name for i in model.graph.input]
    got_out = [o.name for o in model.graph.output]
    if got_in != input_names or got_out != output_names:
        raise RuntimeError(f'exported graph has inputs {got_in} / outputs {got_out}, '
                           f'expected {input_names} / {output_names}')
    # Declare every output's shape as the contract states it: the named dynamic axes, fixed sizes elsewhere
    # (the tracer leaves some fixed sizes, e.g. encoder_kv's lyricTokens, as anonymous symbols).
    with torch.no_grad():
        example = module(*args)
    example = example if isinstance(example, tuple) else (example,)
    for value, tensor in zip(model.graph.output, example):
        dims = value.type.tensor_type.shape.dim
        assert len(dims) == tensor.dim(), value.name
        named = dynamic_axes.get(value.name, {})
        for axis, dim in enumerate(dims):
            if axis in named:
                dim.dim_param = named[axis]
            else:
                dim.dim_value = tensor.shape[axis]
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export_conditioner(prior: SimplePrior, hop: int, top_hop: int, opset: int) -> bytes:
    b = 2
    labels = example_labels(prior, hop, top_hop, b, random.Random(0))
    inputs = ['labels']
    args: Tuple = (labels,)
    axes = {'labels': {0: 'B'}, 'y_cond': {0: 'B'}, 'x_cond': {0: 'B'}}
    if prior.x_cond:
        upper = torch.randint(0, prior.bins, (b, prior.n_ctx // prior.cond_downsample), generator=torch.Generator().manual_seed(0))
        args = (labels, upper)
        inputs.append('upper_tokens')
        axes['upper_tokens'] = {0: 'B'}
    outputs = ['y_cond', 'x_cond']
    if prior.n_tokens > 0:
        outputs.append('encoder_kv')
        axes['encoder_kv'] = {0: 'B'}
    return _export(ConditionerGraph(prior), args, inputs, outputs, axes, opset)


def export_step(prior: SimplePrior, opset: int) -> bytes:
    b, t, p = 2, 3, 5
    g = torch.Generator().manual_seed(0)
    w, h, dh = prior.width, prior.heads, prior.head_dim
    args: List[torch.Tensor] = [
        torch.randint(0, prior.bins, (b, t), generator=g),
        torch.tensor([p], dtype=torch.int64),
        torch.randn(b, t, w, generator=g),
        torch.randn(b, w, generator=g),
    ]
    inputs = ['tokens', 'position', 'x_cond', 'y_cond']
    axes = {'tokens': {0: 'B', 1: 'T'}, 'x_cond': {0: 'B', 1: 'T'}, 'y_cond': {0: 'B'}, 'logits': {0: 'B'}}
    if prior.n_tokens > 0:
        args.append(torch.randn(b, prior.n_tokens, w, generator=g))
        inputs.append('encoder_kv')
        axes['encoder_kv'] = {0: 'B'}
    outputs = ['logits']
    for i in range(prior.depth):
        for kind in ('key', 'value'):
            args.append(torch.randn(b, h, p, dh, generator=g))
            inputs.append(f'past_{kind}_{i}')
            outputs.append(f'present_{kind}_{i}')
            axes[f'past_{kind}_{i}'] = {0: 'B', 2: 'P'}
            axes[f'present_{kind}_{i}'] = {0: 'B', 2: 'P_plus_T'}
    return _export(StepGraph(prior), tuple(args), inputs, outputs, axes, opset)


def export_decoder(vqvae: VQVAE, level: int, opset: int) -> bytes:
    tokens = torch.randint(0, vqvae.bottleneck.level_blocks[level].k_bins, (2, 7),
                           generator=torch.Generator().manual_seed(0))
    axes = {'tokens': {0: 'B', 1: 'T'}, 'audio': {0: 'B', 1: 'samples'}}
    return _export(DecoderGraph(vqvae, level), (tokens,), ['tokens'], ['audio'], axes, opset)


# ----------------------------------------------------------------------------------------------
# Example inputs


LYRIC_LINES = [
    'Hello tiny world,\nsing along with me!',
    'Random weights (and [random] words): 1, 2, 3...',
]


def encode_lyrics(text: str, vocab: str, n: int) -> List[int]:
    ids = [vocab.index(c) + 1 for c in text if c in vocab][-n:]
    return [0] * (n - len(ids)) + ids


def example_labels(prior: SimplePrior, hop: int, top_hop: int, b: int, rng: random.Random,
                   vocab: str = '') -> torch.Tensor:
    """Label rows as the host builds them: [total_length, offset, sample_length, artist, genres..., lyrics...]
    for a song of 200 .. 70000 top-level tokens and a window inside it."""
    rows = []
    n_artists, n_genres = prior.y_bins[1], prior.y_bins[0]
    for r in range(b):
        total = top_hop * rng.randrange(200, 70000)
        offset = hop * rng.randrange(0, total // hop - prior.n_ctx)
        sample_length = prior.n_ctx * hop
        n_genre = rng.randrange(0, prior.max_bow_genre_size + 1)
        genres = [rng.randrange(0, n_genres) for _ in range(n_genre)] + [-1] * (prior.max_bow_genre_size - n_genre)
        row = [total, offset, sample_length, rng.randrange(0, n_artists)] + genres
        if prior.n_tokens > 0:
            if vocab:
                row += encode_lyrics(LYRIC_LINES[r % len(LYRIC_LINES)], vocab, prior.n_tokens)
            else:
                row += [rng.randrange(0, 10) for _ in range(prior.n_tokens)]
        rows.append(row)
    return torch.tensor(rows, dtype=torch.int64)


# ----------------------------------------------------------------------------------------------
# Receptive field of the decoders


def decoder_receptive_field(vqvae: VQVAE, level: int, trials: int = 6) -> Tuple[int, int, int]:
    """Returns (analytic_left, analytic_right, empirical_radius) in tokens."""
    hop = vqvae.hop_lengths[level]
    left, right = receptive_field_tokens(vqvae.decoders[level].layer_specs(), hop)
    radius = max(left, right)
    g = torch.Generator().manual_seed(level + 100)
    n = 2 * radius + 48
    bins = vqvae.bottleneck.level_blocks[level].k_bins
    empirical = 0
    with torch.no_grad():
        for trial in range(trials):
            tokens = torch.randint(0, bins, (1, n), generator=g)
            base = vqvae.decode_level(tokens, level)
            c = radius + 10 + trial
            changed = tokens.clone()
            changed[0, c] = (tokens[0, c] + 1 + trial * 37) % bins
            diff = (vqvae.decode_level(changed, level) - base).abs()[0]
            idx = torch.nonzero(diff > 0).flatten()
            lo_tok, hi_tok = int(idx.min()) // hop, int(idx.max()) // hop
            # Output token t depends on token c iff c in [t - left, t + right], i.e. t in [c - right, c + left].
            if c - lo_tok > right or hi_tok - c > left:
                raise RuntimeError(f'decoder {level}: perturbing token {c} changed tokens {lo_tok}..{hi_tok}, '
                                   f'beyond the analytic receptive field (-{left}, +{right})')
            empirical = max(empirical, c - lo_tok, hi_tok - c)
    return left, right, empirical


# ----------------------------------------------------------------------------------------------
# PyTorch self-checks and the reference fixture


def _round(x: float) -> float:
    return float(f'{x:.8g}')


def _rows(t: torch.Tensor) -> list:
    if t.dim() == 1:
        return [_round(v) for v in t.tolist()]
    return [_rows(s) for s in t]


def step_logits(prior: SimplePrior, labels, upper, tokens, chunks: Sequence[int]) -> List[torch.Tensor]:
    """Runs the step path over `tokens` [B, N] in the given chunk sizes; returns each chunk's last logits."""
    y_cond, x_cond, enc = prior.get_cond(labels, upper)
    b = tokens.shape[0]
    past = prior.prior.transformer.empty_cache(b)
    out = []
    pos = 0
    prev = torch.cat([torch.zeros(b, 1, dtype=torch.int64), tokens[:, :-1]], dim=1)  # token before each position
    for t in chunks:
        logits, past = prior.prior.step(prev[:, pos:pos + t], torch.tensor([pos]), x_cond[:, pos:pos + t], y_cond,
                                        enc, past)
        out.append(logits)
        pos += t
    return out


def level_fixture(prior: SimplePrior, hop: int, top_hop: int, cfg: dict, rng: random.Random) -> Tuple[dict, dict]:
    b, n = 2, 40
    vocab = cfg['lyrics']['vocab'] if cfg.get('lyrics') else ''
    labels = example_labels(prior, hop, top_hop, b, rng, vocab)
    upper = None
    if prior.x_cond:
        upper = torch.tensor([[rng.randrange(0, prior.bins) for _ in range(prior.n_ctx // prior.cond_downsample)]
                              for _ in range(b)], dtype=torch.int64)
    tokens = torch.tensor([[rng.randrange(0, prior.bins) for _ in range(n)] for _ in range(b)], dtype=torch.int64)
    positions = [0, 1, 15, 17, 31, 39]
    with torch.no_grad():
        y_cond, x_cond, enc = prior.get_cond(labels, upper)
        full = prior.prior(tokens, x_cond, y_cond, enc)  # [B, N, V], no cache
        # Self-checks: token-by-token and chunked runs of the step path equal the full forward.
        singles = torch.stack(step_logits(prior, labels, upper, tokens, [1] * n), dim=1)
        chunked = step_logits(prior, labels, upper, tokens, [16, 16] + [1] * 8)
    err1 = float((singles - full).abs().max())
    err2 = max(float((chunked[0] - full[:, 15]).abs().max()), float((chunked[1] - full[:, 31]).abs().max()),
               float((chunked[-1] - full[:, 39]).abs().max()))
    scale = float(full.abs().max())
    if err1 > 1e-5 * scale or err2 > 1e-5 * scale:
        raise RuntimeError(f'level {prior.level}: cached steps differ from the full forward ({err1}, {err2})')
    stats = {'logit_std': float(full.std()), 'logit_max_abs': scale}
    return {
        'level': prior.level,
        'batch': b,
        'labels': labels.tolist(),
        'upperTokens': upper.tolist() if upper is not None else None,
        'tokens': tokens.tolist(),
        'positions': positions,
        # logits[i][row] = the V logits at positions[i] for that row
        'logits': [_rows(full[:, p]) for p in positions],
    }, stats


def decoder_fixture(vqvae: VQVAE, level: int, rng: random.Random) -> dict:
    bins = vqvae.bottleneck.level_blocks[level].k_bins
    tokens = torch.tensor([[rng.randrange(0, bins) for _ in range(10)] for _ in range(2)], dtype=torch.int64)
    with torch.no_grad():
        audio = vqvae.decode_level(tokens, level)
    return {'level': level, 'tokens': tokens.tolist(), 'audio': _rows(audio)}


# ----------------------------------------------------------------------------------------------
# Everything


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_model(cfg: dict, out_dir: str, fixture_path: Optional[str], log=print) -> dict:
    family = build_family(cfg)
    vq = family.vqvae
    opset = cfg['opset_version']
    os.makedirs(out_dir, exist_ok=True)
    files: Dict[str, bytes] = {}
    levels = []
    top = len(family.priors) - 1
    for prior in family.priors:
        hps = next(p for p in cfg['priors'] if p['level'] == prior.level)
        cond_name, step_name = f'level{prior.level}.conditioner.onnx', f'level{prior.level}.step.onnx'
        files[cond_name] = export_conditioner(prior, vq.hop_lengths[prior.level], vq.hop_lengths[-1], opset)
        files[step_name] = export_step(prior, opset)
        lyrics = 'encoder' if prior.n_tokens > 0 else 'none'
        levels.append({
            'level': prior.level,
            'hopLength': vq.hop_lengths[prior.level],
            'nCtx': prior.n_ctx,
            'hopFraction': hps['hop_fraction'],
            'codebookSize': prior.bins,
            'width': prior.width,
            'layers': prior.depth,
            'heads': prior.heads,
            'headDim': prior.head_dim,
            'prefillChunk': cfg['prefill_chunk'],
            'conditioning': {
                'labels': True,
                'timing': prior.y_emb.include_time_signal,
                'lyrics': lyrics,
                'lyricTokens': prior.n_tokens,
                'upper': prior.x_cond,
            },
            'labelLength': prior.label_length,
            'vocabOffset': 0,
            'graphs': {
                'conditioner': {'file': cond_name, 'sha256': sha256(files[cond_name])},
                'step': {'file': step_name, 'sha256': sha256(files[step_name])},
            },
        })
        assert prior.level == top or prior.n_ctx // prior.cond_downsample * prior.cond_downsample == prior.n_ctx
    decoders = []
    for level in range(vq.levels):
        name = f'vqvae.decoder{level}.onnx'
        files[name] = export_decoder(vq, level, opset)
        left, right, empirical = decoder_receptive_field(vq, level)
        margin = max(left, right) + cfg['vqvae']['margin_slack_tokens']
        log(f'decoder {level}: hop {vq.hop_lengths[level]}, receptive field -{left}/+{right} tokens (analytic), '
            f'{empirical} (empirical radius), marginTokens {margin}')
        decoders.append({'level': level, 'file': name, 'sha256': sha256(files[name]), 'marginTokens': margin})

    lab = cfg['labels']
    manifest = {
        'contractVersion': cfg['contract_version'],
        'modelId': cfg['model_id'],
        'sampleRate': cfg['sr'],
        'labels': {
            'version': lab['version'],
            'artists': {a: i for i, a in enumerate(lab['artists'])},
            'genres': {g: i for i, g in enumerate(lab['genres'])},
            'maxGenreWords': lab['max_bow_genre_size'],
            'minDurationSeconds': lab['min_duration'],
            'maxDurationSeconds': lab['max_duration'],
        },
    }
    if cfg.get('lyrics') and any(p.n_tokens > 0 for p in family.priors):
        manifest['lyrics'] = {'vocab': cfg['lyrics']['vocab'], 'maxChars': cfg['lyrics']['max_chars']}
    manifest['levels'] = levels
    manifest['vqvae'] = {'decoders': decoders}

    for name, data in files.items():
        with open(os.path.join(out_dir, name), 'wb') as f:
            f.write(data)
    manifest_bytes = (json.dumps(manifest, indent=2, ensure_ascii=False) + '\n').encode('utf-8')
    with open(os.path.join(out_dir, 'manifest.json'), 'wb') as f:
        f.write(manifest_bytes)

    if fixture_path:
        rng = random.Random(cfg['seed'] + 1)
        level_fx = []
        for prior in family.priors:
            fx, stats = level_fixture(prior, vq.hop_lengths[prior.level], vq.hop_lengths[-1], cfg, rng)
            log(f'level {prior.level}: logits std {stats["logit_std"]:.3f}, max |logit| {stats["logit_max_abs"]:.3f}')
            level_fx.append(fx)
        dec_fx = [decoder_fixture(vq, level, rng) for level in range(vq.levels)]
        fixture = {
            'modelId': cfg['model_id'],
            'manifestSha256': sha256(manifest_bytes),
            'levels': level_fx,
            'decoders': dec_fx,
        }
        os.makedirs(os.path.dirname(fixture_path), exist_ok=True)
        with open(fixture_path, 'w', encoding='utf-8') as f:
            json.dump(fixture, f, separators=(',', ':'))
            f.write('\n')
    return manifest
