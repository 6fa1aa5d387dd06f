#!/usr/bin/env python3
"""Does a top prior keep a clip's beat when it continues the clip's true top-level codes? For every held-out clip
of the given artists: the first n_ctx·(1 - hop_fraction) true codes are the context, the prior samples on (window
by window, hop_fraction·n_ctx new tokens each, temperature 0.99, true labels), and the continuation is decoded by
the VQ-VAE's top-level decoder, as are the clip's own codes over the same span. Prints pulse clarity and
periodicity (evaluate_music.descriptors) of both. Used in docs/tiny-model.md ("Tried").

--repeats instead: how often a top-level code recurs one beat and one bar later in the clips of those artists
(median over clips, against an off-beat lag of 1.37 beats and chance 1/codebook): how literally the music's
repetition shows in the codes the top prior models.

    /usr/bin/python3 tools/train/continuation_probe.py --corpus /tmp/music-corpus --codes /tmp/tiny-train-v1/codes.npz \
        [--training tiny-training.json] [--weights FILE] [--artists 1,2] [--seconds 6] [--repeats]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
sys.path.insert(0, TOOLS)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import numpy as np  # noqa: E402
import torch  # noqa: E402

from corpus_data import label_vector, load_corpus, relevant_lyric_tokens  # noqa: E402
from evaluate_music import descriptors  # noqa: E402
from jukebox_model.tiny import build  # noqa: E402
from training_config import read_training  # noqa: E402


LAGS = (('beat', 1.0), ('bar', 4.0), ('off-beat', 1.37))


def recurrence(z: np.ndarray, beat_tokens: float) -> dict:
    """Share of positions whose code recurs one beat, one bar (4 beats) and an off-beat lag (1.37 beats) later."""
    rates = {}
    for name, beats in LAGS:
        k = int(round(beats * beat_tokens))
        rates[name] = float(np.mean(z[k:] == z[:-k]))
    return rates


def code_repeats(corpus: str, clips, data, level: int, tokens_per_second: float, artists: set, bins: int) -> None:
    with open(os.path.join(corpus, 'index.json'), encoding='utf-8') as f:
        index = json.load(f)
    entries = index['clips'] if isinstance(index, dict) else index
    rates = {'beat': [], 'bar': [], 'off-beat': []}
    for i, c in enumerate(clips):
        if c.artist not in artists:
            continue
        z = data[f'{i}_{level}'].astype(np.int64)
        for name, rate in recurrence(z, tokens_per_second * 60 / entries[i]['tempo']).items():
            rates[name].append(rate)
    print(f'{len(rates["bar"])} clips: a level-{level} code recurs ' + ', '.join(
        f'{float(np.median(v)):.3f} {name}' for name, v in rates.items()) + f' later (chance {1 / bins:.4f})')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--corpus', required=True)
    ap.add_argument('--codes', required=True, help="a training round's codes.npz (the VQ-VAE the weights use)")
    ap.add_argument('--training', default='tiny-training.json',
                    help='the round probed, a config under tools/configs (its model and weights_out)')
    ap.add_argument('--weights', help='its weights (default: weights_out of --training)')
    ap.add_argument('--artists', default='1,2', help='artist ids (default: tiny_ensemble, the_random_walkers: drums)')
    ap.add_argument('--seconds', type=float, default=6.0, help='continuation length')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--repeats', action='store_true', help='code recurrence at beat and bar lags, then stop')
    args = ap.parse_args()
    torch.set_num_threads(2)
    tr, cfg = read_training(args.training)
    cfg['weights'] = os.path.abspath(args.weights or os.path.join(os.path.dirname(TOOLS), tr['weights_out']))
    vqvae, priors = build(cfg)
    top = priors[-1]
    hop_fraction = next(p['hop_fraction'] for p in cfg['priors'] if p['level'] == top.level)
    n, hop = top.n_ctx, int(top.n_ctx * hop_fraction)
    ctx_len, samples_per_token = n - hop, vqvae.hop_lengths[top.level]
    clips = load_corpus(args.corpus, cfg)
    data = np.load(args.codes)
    artists = {int(a) for a in args.artists.split(',')}
    if args.repeats:
        code_repeats(args.corpus, clips, data, top.level, cfg['sr'] / vqvae.hop_lengths[top.level], artists, top.bins)
        return
    g = torch.Generator().manual_seed(args.seed)
    rows = []
    for i, c in enumerate(clips):
        if c.split != 'held_out' or c.artist not in artists:
            continue
        codes = data[f'{i}_{top.level}'].astype(np.int64)
        want = ctx_len + int(args.seconds * cfg['sr'] / samples_per_token)
        if len(codes) < want:
            continue
        seq = list(codes[:ctx_len])
        while len(seq) < want:
            s0 = len(seq) - ctx_len  # the window's first token
            offset = min(s0 * samples_per_token, len(c.audio) - n * samples_per_token)
            lyr = relevant_lyric_tokens(c.lyric_ids, top.n_tokens, len(c.audio), offset, n * samples_per_token) \
                if top.n_tokens else []
            lab = torch.tensor([label_vector(len(c.audio), offset, n * samples_per_token, c.artist, c.genres,
                                             top.max_bow_genre_size, lyr)])
            x = torch.tensor([seq[-ctx_len:] + [0] * hop])
            for k in range(hop):
                with torch.no_grad():
                    logits = top.full_logits(lab, None, top.sequence(lab, x))
                if top.single_enc_dec:
                    logits = logits[:, top.n_tokens:, top.n_vocab:]
                p = torch.softmax(logits[0, ctx_len + k] / 0.99, -1)
                x[0, ctx_len + k] = int(torch.multinomial(p, 1, generator=g))
            seq += x[0, ctx_len:].tolist()
        seq = seq[:want]
        with torch.no_grad():
            real = vqvae.decode_level(torch.tensor(codes[None, :want]), top.level).reshape(-1).numpy()
            gen = vqvae.decode_level(torch.tensor([seq]), top.level).reshape(-1).numpy()
        cut = ctx_len * samples_per_token
        dr, dg = descriptors(real[cut:]), descriptors(gen[cut:])
        rows.append({'clip': i, 'artist': c.artist, 'pulseClip': dr['pulseClarity'], 'pulseContinued': dg['pulseClarity'],
                     'periodicityClip': dr['periodicity'], 'periodicityContinued': dg['periodicity']})
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()}), flush=True)
    if rows:
        med = lambda k: float(np.median([r[k] for r in rows]))  # noqa: E731
        print(f'median over {len(rows)} clips: pulse clarity clip {med("pulseClip"):.2f}, continued '
              f'{med("pulseContinued"):.2f}; periodicity clip {med("periodicityClip"):.2f}, continued '
              f'{med("periodicityContinued"):.2f}')


if __name__ == '__main__':
    main()
