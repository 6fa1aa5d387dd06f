#!/usr/bin/env python3
"""Why do the top-level codes of a beat hardly repeat? Composes clips as the corpus does (music_corpus.compose;
artists tiny_ensemble and the_random_walkers, with drums), renders each in variants that remove one suspect at a
time, encodes them with a round's VQ-VAE and prints how often a top-level code recurs one beat, one bar and an
off-beat lag later (continuation_probe.recurrence; median over clips):

    as composed   the corpus's own clip
    grid          tempo moved (at most ~7 %) so that a 16th note is a whole number of top-level hops, no swing:
                  every onset falls at the same phase of the hop grid
    steady        grid, and each part's notes of one pitch at one velocity (their mean)
    no melody     steady, without the melody
    drums only    steady, the drum part alone
    drums forward as composed, every other part at half velocity (about 12 dB down in fluidsynth)
    grid forward  grid and drums forward

    /usr/bin/python3 tools/train/code_recurrence_probe.py [--clips 16] [--seed 7] [--training tiny-training.json]
        [--weights FILE] [--jobs 2]

Used in docs/tiny-model.md ("Tried"). Needs fluidsynth and the soundfont music_corpus.py uses.
"""
import argparse
import os
import random
import sys
import tempfile
from multiprocessing import Pool

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
sys.path.insert(0, TOOLS)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import numpy as np  # noqa: E402
import torch  # noqa: E402

import music_corpus as mc  # noqa: E402
from continuation_probe import LAGS, recurrence  # noqa: E402
from jukebox_model.tiny import build  # noqa: E402
from training_config import read_training  # noqa: E402

VARIANTS = ('as composed', 'grid', 'steady', 'no melody', 'drums only', 'drums forward', 'grid forward')
DRUM_ARTISTS = ('tiny_ensemble', 'the_random_walkers')


def compose_with_drums(seed: int, i: int, seconds: float):
    """The first composition of clip i's random stream (then the next ones) by a drum artist with a drum part."""
    rng = random.Random(seed * 100003 + i)
    while True:
        entry, parts, swing = mc.compose(rng, seconds)
        if entry['artist'] in DRUM_ARTISTS and any(channel == 9 for _, channel, _, _ in parts):
            return entry, parts, swing


def steady(parts):
    """Each part's notes of one pitch at the mean velocity of those notes."""
    out = []
    for name, channel, program, notes in parts:
        by_pitch = {}
        for _, _, pitch, vel in notes:
            by_pitch.setdefault(pitch, []).append(vel)
        mean = {p: int(round(sum(v) / len(v))) for p, v in by_pitch.items()}
        out.append((name, channel, program, [(s, e, p, mean[p]) for s, e, p, _ in notes]))
    return out


def drums_forward(parts):
    """Every part but the drums at half velocity."""
    return [(n, ch, pr, notes if ch == 9 else [(s, e, p, max(1, v // 2)) for s, e, p, v in notes])
            for n, ch, pr, notes in parts]


def variant(entry, parts, swing, name: str, sr: int, hop: int):
    """(tempo in bpm, parts, swing) of one variant."""
    if name == 'as composed':
        return entry['tempo'], parts, swing
    if name == 'drums forward':
        return entry['tempo'], drums_forward(parts), swing
    k = 4 * max(1, round(sr * 60 / entry['tempo'] / hop / 4))  # hops per beat, a multiple of 4 (16ths)
    tempo = sr * 60 / (hop * k)
    if name == 'grid':
        return tempo, parts, False
    if name == 'grid forward':
        return tempo, drums_forward(parts), False
    parts = steady(parts)
    if name == 'no melody':
        parts = [p for p in parts if p[0] != 'melody']
    elif name == 'drums only':
        parts = [p for p in parts if p[1] == 9]
    return tempo, parts, False


def render(job):
    """Render clip i in every variant: [(tempo, audio float32)] in VARIANTS order."""
    i, seed, seconds, sr, hop, soundfont = job
    entry, parts, swing = compose_with_drums(seed, i, seconds)
    out = []
    with tempfile.TemporaryDirectory(prefix='recurrence-probe-') as tmp:
        for v, name in enumerate(VARIANTS):
            tempo, p, sw = variant(entry, parts, swing, name, sr, hop)
            midi = os.path.join(tmp, f'{v}.mid')
            mc.write_midi(midi, tempo, p, sw)
            x, _ = mc.synthesize(midi, os.path.join(tmp, f'{v}.raw.wav'), seconds, sr, soundfont)
            out.append((tempo, x.astype(np.float32)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--clips', type=int, default=16)
    ap.add_argument('--seed', type=int, default=7, help='composition seed (the corpus uses 1)')
    ap.add_argument('--seconds', type=float, default=10.0)
    ap.add_argument('--training', default='tiny-training.json', help='the round whose VQ-VAE encodes (a config)')
    ap.add_argument('--weights', help='its weights (default: weights_out of --training)')
    ap.add_argument('--soundfont', default='/usr/share/sounds/sf2/TimGM6mb.sf2')
    ap.add_argument('--jobs', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(2)
    tr, cfg = read_training(args.training)
    cfg['weights'] = os.path.abspath(args.weights or os.path.join(os.path.dirname(TOOLS), tr['weights_out']))
    vqvae, priors = build(cfg)
    top, hop, sr = priors[-1], vqvae.hop_lengths[-1], cfg['sr']
    jobs = [(i, args.seed, args.seconds, sr, hop, os.path.abspath(args.soundfont)) for i in range(args.clips)]
    with Pool(args.jobs) as pool:
        clips = pool.map(render, jobs, chunksize=1)
    print(f'{args.clips} clips, level-{top.level} codes (hop {hop} samples at {sr} Hz), median share recurring '
          f'at each lag (chance {1 / top.bins:.4f}):')
    for v, name in enumerate(VARIANTS):
        rates = {lag: [] for lag, _ in LAGS}
        for clip in clips:
            tempo, x = clip[v]
            with torch.no_grad():
                z = vqvae.encode_level(torch.from_numpy(x[: len(x) // hop * hop])[None], top.level)[0].numpy()
            for lag, rate in recurrence(z.astype(np.int64), sr / hop * 60 / tempo).items():
                rates[lag].append(rate)
        print(f'  {name:12s} ' + ', '.join(f'{lag} {float(np.median(r)):.3f}' for lag, r in rates.items()))


if __name__ == '__main__':
    main()
