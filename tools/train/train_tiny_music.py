#!/usr/bin/env python3
"""Trains the bundled model (models/tiny) on the synthetic music corpus, stage by stage:

    /usr/bin/python3 tools/train/music_corpus.py --out /tmp/music-corpus      # the data (not committed)
    /usr/bin/python3 tools/train/train_tiny_music.py --corpus /tmp/music-corpus --work /tmp/tiny-train \
        [--training tools/configs/tiny-training.json] [--stages vqvae,codes,prior2,prior1,prior0,weights]

Stages (each writes into --work and is skipped when its output exists, so a run can be resumed):
  vqvae   the VQ-VAE with Jukebox's losses (vqvae_training.py)          -> vqvae.pt, vqvae-history.json
  codes   every clip encoded at every level                            -> codes.npz
  priorL  prior of level L on those codes (prior_training.py)           -> prior{L}.pt, prior{L}-history.json
  weights all weights in one file                                       -> --weights-out (default: the config's weights_out)
Then `tools/make_tiny_model.py --weights FILE` exports a model folder from tiny.json and those weights, and
`tools/train/evaluate_music.py` measures it. Seeded.

Training runs in rounds, each one config: round 0 (configs/tiny-training-v0.json, about 70 minutes on 2 CPU
cores) starts from the initialisation; a later round (configs/tiny-training.json; the experiment
tiny-training-top512.json) names the weights of the round before in "start_from" and continues from them:
the VQ-VAE levels it lists ("vqvae.levels"; the others keep their weights and codes) with codebooks resumed,
and the priors it lists. What a round does not list (no "vqvae", a level missing from "priors") is carried
over unchanged. A prior whose window (n_ctx) grew since the round before starts from its weights with the
learned position embedding repeated over the longer window (see grown_positions). A round may change a few
hyperparameters of its model config with "model_overrides" (training_config.py).
"""
import argparse
import json
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
sys.path.insert(0, TOOLS)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from corpus_data import load_corpus  # noqa: E402
from jukebox_model.init import randomise  # noqa: E402
from jukebox_model.prior import SimplePrior  # noqa: E402
from jukebox_model.init import random_vqvae as random_official_vqvae  # noqa: E402
from jukebox_model.tiny import level_hps  # noqa: E402
from jukebox_model.vqvae import VQVAE  # noqa: E402
from prior_training import WindowSampler, train_prior  # noqa: E402
from training_config import read_training  # noqa: E402
from vqvae_training import reconstruction_metrics, train_vqvae  # noqa: E402


def fresh_priors(cfg: dict, init: dict, seed: int):
    vq = {k: cfg['vqvae'][k] for k in ('levels', 'downs_t', 'strides_t', 'l_bins')}
    priors = [SimplePrior(level_hps(cfg, p), vq) for p in sorted(cfg['priors'], key=lambda p: p['level'])]
    randomise(nn.ModuleList(priors), init, torch.Generator().manual_seed(seed))
    return priors


def grown_positions(prior: nn.Module, state: dict) -> dict:
    """`state` for `prior`, whose window may be longer than the one `state` was trained with: the learned
    position embedding (one row per window position) is repeated to the new length, so that every other weight
    (which does not depend on the window) carries over and training starts from what the shorter window knew."""
    own = prior.state_dict()
    out = dict(state)
    for name, value in state.items():
        if name.endswith('pos_emb.pos_emb') and value.shape != own[name].shape:
            n, width = own[name].shape
            assert width == value.shape[1] and n % value.shape[0] == 0, f'{name}: cannot grow {tuple(value.shape)} to {(n, width)}'
            out[name] = value.repeat(n // value.shape[0], 1)
    return out


def load_vqvae(cfg: dict, work: str) -> VQVAE:
    vqvae = random_official_vqvae(cfg['vqvae'], cfg['seed'], cfg['init'])
    vqvae.load_state_dict(torch.load(os.path.join(work, 'vqvae.pt')))
    return vqvae.eval()


def save_json(path: str, obj) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--corpus', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--training', default=os.path.join(TOOLS, 'configs', 'tiny-training.json'))
    ap.add_argument('--stages', default='vqvae,codes,prior2,prior1,prior0,weights')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--weights-out', help='where the weights stage writes every trained weight (default: the '
                    'config\'s weights_out; make_tiny_model.py --weights reads it)')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore', category=UserWarning)
    tr, cfg = read_training(args.training)
    os.makedirs(args.work, exist_ok=True)
    start = None
    if tr.get('start_from'):
        start = torch.load(os.path.join(os.path.dirname(TOOLS), tr['start_from']))
    clips = load_corpus(args.corpus, cfg)
    train = [c for c in clips if c.split == 'train']
    held = [c for c in clips if c.split == 'held_out']
    print(f'corpus: {len(train)} training clips, {len(held)} held out')
    stages = args.stages.split(',')
    log_path = os.path.join(args.work, 'train.log')

    def log(msg: str) -> None:
        print(msg, flush=True)
        with open(log_path, 'a', encoding='utf-8') as f:
            f.write(msg + '\n')

    if 'vqvae' in stages and not os.path.exists(os.path.join(args.work, 'vqvae.pt')) and 'vqvae' not in tr:
        torch.save(start['vqvae'], os.path.join(args.work, 'vqvae.pt'))
        log('vqvae: carried over from start_from')
    elif 'vqvae' in stages and not os.path.exists(os.path.join(args.work, 'vqvae.pt')):
        t0 = time.time()
        v = tr['vqvae']
        vqvae = random_official_vqvae(cfg['vqvae'], cfg['seed'], cfg['init'])
        if start is not None:
            vqvae.load_state_dict(start['vqvae'])
        hist = train_vqvae(vqvae, [c.audio for c in train], v['steps'], v['batch'], v['length'], tr['seed'],
                           lr=v['lr'], commit=v['commit'], spec_weight=v['multispectral'], log=log,
                           levels=v.get('levels'), resume=start is not None, dead_share=v.get('dead_share'))
        metrics = reconstruction_metrics(vqvae, [c.audio for c in held])
        log(f'vqvae: {time.time() - t0:.0f} s; held-out ' + ', '.join(
            f'L{m["level"]} SNR {m["snrDb"]:.1f} dB SC {m["spectralConvergence"]:.2f}' for m in metrics))
        save_json(os.path.join(args.work, 'vqvae-history.json'),
                  {'history': hist, 'heldOut': metrics, 'seconds': time.time() - t0})
        torch.save(vqvae.state_dict(), os.path.join(args.work, 'vqvae.pt'))

    codes_path = os.path.join(args.work, 'codes.npz')
    if 'codes' in stages and not os.path.exists(codes_path):
        vqvae = load_vqvae(cfg, args.work)
        arrays = {}
        with torch.no_grad():
            for i, c in enumerate(clips):
                for level in range(vqvae.levels):
                    hop = vqvae.hop_lengths[-1]
                    x = torch.from_numpy(c.audio[: len(c.audio) // hop * hop])[None]
                    arrays[f'{i}_{level}'] = vqvae.encode_level(x, level)[0].numpy().astype(np.int16)
        np.savez(codes_path, **arrays)
        log(f'codes: {len(clips)} clips encoded')

    for level in (2, 1, 0):
        out = os.path.join(args.work, f'prior{level}.pt')
        if f'prior{level}' not in stages or os.path.exists(out):
            continue
        if str(level) not in tr['priors']:
            torch.save(start['priors'][level], out)
            log(f'prior {level}: carried over from start_from')
            continue
        t0 = time.time()
        data = np.load(codes_path)
        codes = [[data[f'{i}_{l}'].astype(np.int64) for l in range(3)] for i in range(len(clips))]
        prior = fresh_priors(cfg, tr['init'], tr['seed'])[level]
        if start is not None:
            prior.load_state_dict(grown_positions(prior, start['priors'][level]))
        p = tr['priors'][str(level)]
        vqvae = load_vqvae(cfg, args.work)
        hops = vqvae.hop_lengths
        train_idx = [i for i, c in enumerate(clips) if c.split == 'train']
        held_idx = [i for i, c in enumerate(clips) if c.split == 'held_out']
        upper_hop = hops[level + 1] if level + 1 < len(hops) else None
        sampler = WindowSampler(prior, [codes[i] for i in train_idx], [clips[i] for i in train_idx], hops[level],
                                upper_hop, cfg['sr'], tr['seed'] + level, tr['max_song_seconds'],
                                p.get('label_dropout', 0.0))
        held_sampler = WindowSampler(prior, [codes[i] for i in held_idx], [clips[i] for i in held_idx],
                                     hops[level], upper_hop, cfg['sr'], tr['seed'] + 100 + level,
                                     tr['max_song_seconds'])
        hist = train_prior(prior, sampler, p['steps'], p['batch'], tr['seed'] + level, lr=p['lr'], log=log,
                           held_out=held_sampler)
        save_json(os.path.join(args.work, f'prior{level}-history.json'), {'history': hist, 'seconds': time.time() - t0})
        torch.save(prior.state_dict(), out)
        log(f'prior {level}: {time.time() - t0:.0f} s')

    if 'weights' in stages:
        weights = {'vqvae': torch.load(os.path.join(args.work, 'vqvae.pt')),
                   'priors': [torch.load(os.path.join(args.work, f'prior{l}.pt')) for l in range(3)]}
        dest = args.weights_out or os.path.join(os.path.dirname(TOOLS), tr['weights_out'])
        torch.save(weights, dest)
        log(f'weights: {dest} ({os.path.getsize(dest) / 1e6:.1f} MB)')


if __name__ == '__main__':
    main()
