#!/usr/bin/env python3
"""Measures the bundled model (models/tiny, trained by train_tiny_music.py) and writes what docs/tiny-model.md
quotes: bench/results/tiny-model-quality.json and docs/images/tiny-*.png.

    /usr/bin/python3 tools/train/evaluate_music.py --corpus /tmp/music-corpus --work /tmp/tiny-train,/tmp/tiny-train-v1 \
        --model DIR [--weights FILE] [--renders /tmp/tiny-renders] [--seeds 3] [--seconds 10]
        [--baseline-render RANDOM_MODEL.wav]

--work lists the work folders of the training rounds in order (train_tiny_music.py --work); the curves show
every round, the held-out measures use the last one's codes and VQ-VAE.

1. the VQ-VAE's reconstruction of the held-out clips (SNR, spectral convergence; from the training run);
2. each prior's per-token negative log-likelihood on every n_ctx window (hop n_ctx / 2) of the held-out
   clips' codes, against the uniform baseline ln(codebook size);
3. renders made with `jukebox render` (the README's command without labels, then one per artist and per genre,
   several seeds), measured with the same
   audio descriptors as held-out corpus clips, white noise and (optionally) the random model's render:
   - pitch: spectral flatness (geometric / arithmetic mean of the power spectrum, median over active frames;
     white noise is about 0.56, a sum of steady tones near 0) and periodicity (the highest normalised
     autocorrelation at lags 2-20 ms, median over active frames; pitched notes near 1, noise near 0);
   - rhythm: onset rate (peaks of the half-wave rectified spectral flux, per second) and pulse clarity (the
     highest normalised autocorrelation of the flux envelope at lags of 0.25-1.5 s, i.e. 40-240 bpm);
   - brightness: spectral centroid (Hz, energy weighted).
   Each label's renders are compared with the corpus clips of that label: the label moves the descriptor in
   the direction the corpus has it.
4. spectrogram PNGs: the README's render, one render per artist and per genre;
5. where the music is lost, on a few held-out clips (the first of each artist): the same descriptors of the clip,
   of its VQ-VAE reconstruction at each level (true codes decoded), and of `jukebox render --upsample` of its
   true top-level codes (the upsamplers' own work), with a spectrogram of each (docs/images/tiny-chain-*.png).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import numpy as np  # noqa: E402
from training_config import CONFIGS, read_training  # noqa: E402
from scipy.signal import find_peaks  # noqa: E402

SR = 16000
N_FFT, HOP = 1024, 256


def read_wav(path: str) -> np.ndarray:
    with wave.open(path, 'rb') as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, f'{path}: expected 16-bit mono'
        return np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.float32) / 32768.0


def power_spectrogram(x: np.ndarray) -> np.ndarray:
    n = 1 + (len(x) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(N_FFT)[None, :]
    return np.abs(np.fft.rfft(frames, axis=1)) ** 2  # [frames, bins]


def descriptors(x: np.ndarray) -> dict:
    p = power_spectrogram(x) + 1e-12
    energy = p.sum(axis=1)
    active = energy > energy.max() * 1e-4  # frames within 40 dB of the loudest
    flatness = np.exp(np.log(p).mean(axis=1)) / p.mean(axis=1)
    freqs = np.fft.rfftfreq(N_FFT, 1 / SR)
    centroid = float((p * freqs[None, :]).sum() / p.sum())
    # periodicity: normalised autocorrelation of each active frame at lags of 2-20 ms
    lo, hi = int(0.002 * SR), int(0.020 * SR)
    per = []
    for i in np.nonzero(active)[0][::2]:
        f = x[i * HOP:i * HOP + N_FFT]
        f = f - f.mean()
        ac = np.fft.irfft(np.abs(np.fft.rfft(f, 2 * N_FFT)) ** 2)[:hi + 1]
        if ac[0] > 0:
            per.append(float(ac[lo:hi + 1].max() / ac[0]))
    # rhythm: spectral flux of the log power spectrum
    logp = np.log10(p)
    flux = np.maximum(np.diff(logp, axis=0), 0).sum(axis=1)
    flux = flux - np.convolve(flux, np.ones(16) / 16, mode='same')  # local mean removed
    env = np.maximum(flux, 0)
    frame_rate = SR / HOP
    peaks, _ = find_peaks(env, height=env.mean() + env.std(), distance=max(1, int(0.08 * frame_rate)))
    e = env - env.mean()
    ac = np.correlate(e, e, mode='full')[len(e) - 1:]
    lag_lo, lag_hi = int(0.25 * frame_rate), int(1.5 * frame_rate)
    pulse = float(ac[lag_lo:lag_hi].max() / ac[0]) if ac[0] > 0 else 0.0
    return {
        'flatness': float(np.median(flatness[active])),
        'periodicity': float(np.median(per)) if per else 0.0,
        'onsetRate': float(len(peaks) / (len(x) / SR)),
        'pulseClarity': pulse,
        'centroidHz': centroid,
        'rms': float(np.sqrt((x ** 2).mean())),
    }


def summarise(rows: list) -> dict:
    keys = rows[0].keys()
    return {k: {'median': float(np.median([r[k] for r in rows])), 'min': float(min(r[k] for r in rows)),
                'max': float(max(r[k] for r in rows)), 'n': len(rows)} for k in keys}


def draw_spectrogram(ax, x: np.ndarray) -> None:
    """Power spectrogram in dB (80 dB range), kHz against seconds."""
    db = 10 * np.log10(power_spectrogram(x).T + 1e-10)
    ax.imshow(db, origin='lower', aspect='auto', cmap='magma', vmin=db.max() - 80, vmax=db.max(),
              extent=[0, len(x) / SR, 0, SR / 2000])
    ax.set_xlabel('seconds')


def spectrogram_png(x: np.ndarray, title: str, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 2.6), dpi=80)
    draw_spectrogram(ax, x)
    ax.set_ylabel('kHz')
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def stage_record(work: str, stage: str):
    """A stage's record in a round's work folder (history, seconds; the VQ-VAE's held-out metrics); None where
    the round carried the stage over."""
    path = os.path.join(work, f'{stage}-history.json')
    if not os.path.exists(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def history(work: str, stage: str):
    record = stage_record(work, stage)
    return record['history'] if record else None


def training_curves_png(works: list, path: str) -> None:
    """The training curves of every round in order (dotted lines where a round starts): the VQ-VAE's per-level
    reconstruction and spectral losses, each prior's training and held-out NLL against the uniform baseline."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), dpi=80)
    colours = {0: 'tab:blue', 1: 'tab:orange', 2: 'tab:green'}
    vq_offset, prior_offset = 0, {0: 0, 1: 0, 2: 0}
    for r, work in enumerate(works):
        h = history(work, 'vqvae')
        steps = [vq_offset + s for s in h['step']] if h else []
        for level in range(3):
            if h is None or f'recons{level}' not in h:  # a round that left this level (or all) as it was
                continue
            label = f'level {level}' if r == 0 else None  # round 0 trains every level
            axes[0].plot(steps, h[f'recons{level}'], color=colours[level],
                         label=f'{label} reconstruction' if label else None)
            axes[0].plot(steps, h[f'spec{level}'], color=colours[level], linestyle='--',
                         label=f'{label} spectral' if label else None)
        if r and steps:
            axes[0].axvline(vq_offset, color='grey', linestyle=':')
        vq_offset = steps[-1] + 1 if steps else vq_offset
        for level in (2, 1, 0):
            p = history(work, f'prior{level}')
            if p is None:
                continue
            off = prior_offset[level]
            axes[1].plot([off + s for s in p['step']], p['loss'], alpha=0.4, color=colours[level],
                         label=f'level {level} training' if r == 0 else None)
            axes[1].plot([off + s for s in p['held_out_step']], p['held_out'], marker='o', markersize=3,
                         color=colours[level], label=f'level {level} held out' if r == 0 else None)
            prior_offset[level] = off + p['step'][-1] + 1
    axes[0].set_yscale('log')
    axes[0].set_xlabel('VQ-VAE step (all rounds)')
    axes[0].set_title('VQ-VAE losses (normalised)', fontsize=10)
    axes[0].legend(fontsize=6)
    axes[1].axhline(math.log(256), color='grey', linestyle=':', label='uniform (ln 256)')
    axes[1].set_xlabel('prior step (all rounds)')
    axes[1].set_ylabel('nats / token')
    axes[1].set_title('Prior negative log-likelihood', fontsize=10)
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def prior_nll(work: str, corpus: str, weights: str, cfg: dict) -> list:
    """Held-out NLL per level: every window of n_ctx tokens at a hop of n_ctx / 2, true labels; over all of the
    window's tokens, and over its last hop_fraction · n_ctx tokens only ("sampled": the tokens the sampler draws
    in a window, with the rest of it as context; this compares priors whose windows differ in length)."""
    import torch
    from corpus_data import label_vector, load_corpus, relevant_lyric_tokens
    from jukebox_model.tiny import build
    from prior_training import token_nll

    cfg = {**cfg, 'weights': weights}
    hop_fraction = {p['level']: p['hop_fraction'] for p in cfg['priors']}
    vqvae, priors = build(cfg)
    clips = load_corpus(corpus, cfg)
    data = np.load(os.path.join(work, 'codes.npz'))
    out = []
    for prior in priors:
        level, hop = prior.level, vqvae.hop_lengths[prior.level]
        tail = int(prior.n_ctx * hop_fraction[level])
        nll, count, sampled, sampled_count = 0.0, 0, 0.0, 0
        for i, c in enumerate(clips):
            if c.split != 'held_out':
                continue
            codes = data[f'{i}_{level}'].astype(np.int64)
            upper_codes = data[f'{i}_{level + 1}'].astype(np.int64) if prior.x_cond else None
            xs, ups, labs = [], [], []
            for start in range(0, len(codes) - prior.n_ctx + 1, prior.n_ctx // 2):
                xs.append(codes[start:start + prior.n_ctx])
                if prior.x_cond:
                    u = start // prior.cond_downsample
                    ups.append(upper_codes[u:u + prior.n_ctx // prior.cond_downsample])
                window = prior.n_ctx * hop
                lyr = relevant_lyric_tokens(c.lyric_ids, prior.n_tokens, len(c.audio), start * hop, window) \
                    if prior.n_tokens else []
                labs.append(label_vector(len(c.audio), start * hop, window, c.artist, c.genres,
                                         prior.max_bow_genre_size, lyr))
            with torch.no_grad():
                v = token_nll(prior, torch.tensor(np.stack(xs)), torch.tensor(np.stack(ups)) if ups else None,
                              torch.tensor(labs))
            nll += float(v.sum())
            count += v.numel()
            sampled += float(v[:, -tail:].sum())
            sampled_count += v[:, -tail:].numel()
        out.append({'level': level, 'nCtx': prior.n_ctx, 'heldOutNllNats': nll / count,
                    'sampledNllNats': sampled / sampled_count, 'sampledTokensPerWindow': tail,
                    'uniformNats': math.log(prior.bins), 'tokens': count})
    return out


def previous_round(tr: dict):
    """(weights, model config) of the round the training config `tr` started from, or None; None too when `tr`
    trained the VQ-VAE, whose codes then differ from the round before's (its NLL on them would mean nothing)."""
    start = None if 'vqvae' in tr else tr.get('start_from')
    for name in sorted(os.listdir(CONFIGS)):
        if start and name.startswith('tiny-training') and name.endswith('.json'):
            before, cfg = read_training(name)
            if before.get('weights_out') == start:
                return start, cfg
    return None


def render(model: str, out: str, seconds: int, seed: int, artist: str, genres: list, lyrics: str = '',
           upsample: str = '') -> None:
    """`jukebox render` of model; no artist and no genres: the README's command (no label flags). upsample: a
    tokens file whose top level is given (`--upsample`; the length is the tokens')."""
    if os.path.exists(out):
        return
    length = ['--upsample', upsample] if upsample else ['--seconds', str(seconds)]
    cmd = ['node', os.path.join(ROOT, 'bin', 'jukebox.js'), 'render', *length, '--seed', str(seed),
           '--workers', '2', '--quiet', '--model', model, '--out', out]
    if artist:
        cmd += ['--artist', artist]
    if genres:
        cmd += ['--genre', *genres]
    if lyrics:
        cmd += ['--lyrics', lyrics]
    subprocess.run(cmd, check=True, cwd=ROOT)


def chain(corpus: str, work: str, cfg: dict, weights: str, model: str, renders: str, images: str) -> dict:
    """Descriptors of held-out clips through the chain: clip, VQ-VAE reconstruction per level, upsampled render
    of the true top codes. One clip per artist (the first held out)."""
    import torch
    from corpus_data import load_corpus
    from jukebox_model.tiny import build

    vqvae, _ = build({**cfg, 'weights': weights})
    with open(os.path.join(corpus, 'index.json'), encoding='utf-8') as f:
        entries = json.load(f)['clips']
    clips = load_corpus(corpus, cfg)
    data = np.load(os.path.join(work, 'codes.npz'))
    out, seen = {}, set()
    for i, (c, e) in enumerate(zip(clips, entries)):
        if c.split != 'held_out' or e['artist'] in seen:
            continue
        seen.add(e['artist'])
        stages = {'clip': c.audio}
        with torch.no_grad():
            for level in (0, 1, 2):
                codes = torch.from_numpy(data[f'{i}_{level}'].astype(np.int64))[None]
                stages[f'vqvae{level}'] = vqvae.decode_level(codes, level)[0].numpy()
        tokens = os.path.join(renders, f'chain-{i}.json')
        with open(tokens, 'w', encoding='utf-8') as f:
            json.dump({'levels': {'2': [data[f'{i}_2'].tolist()]}}, f)
        path = os.path.join(renders, f'chain-{i}-upsampled.wav')
        render(model, path, 0, 1, e['artist'], e['genres'], upsample=tokens)
        stages['upsampled'] = read_wav(path)
        out[e['artist']] = {'clip': e['file'], 'genres': e['genres'],
                            **{k: descriptors(v.astype(np.float32)) for k, v in stages.items()}}
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(stages), figsize=(14, 2.4), dpi=70, sharey=True)
        for ax, (name, x) in zip(axes, stages.items()):
            draw_spectrogram(ax, x.astype(np.float32))
            ax.set_title(name, fontsize=9)
        axes[0].set_ylabel('kHz')
        fig.suptitle(f'held-out clip {e["file"]} ({e["artist"]}, {", ".join(e["genres"])})', fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(images, f'tiny-chain-{e["artist"]}.png'))
        plt.close(fig)
        print(f'chain {e["artist"]}: ' + ', '.join(
            f'{k} periodicity {v["periodicity"]:.2f} flatness {v["flatness"]:.3f}' for k, v in out[e['artist']].items()
            if isinstance(v, dict)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--corpus', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--training', default='tiny-training.json',
                    help='the round measured, a config under tools/configs (its weights_out and model_config)')
    ap.add_argument('--weights', help='the trained weights (default: weights_out of --training)')
    ap.add_argument('--model', required=True, help='their export (make_tiny_model.py --weights ... --out DIR)')
    ap.add_argument('--renders', default='/tmp/tiny-renders')
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--seconds', type=int, default=10)
    ap.add_argument('--baseline-render', help='a render of the random model, for comparison')
    ap.add_argument('--images', default=os.path.join(ROOT, 'docs', 'images'))
    ap.add_argument('--out', default=os.path.join(ROOT, 'bench', 'results', 'tiny-model-quality.json'))
    args = ap.parse_args()
    works = args.work.split(',')
    training, model_cfg = read_training(args.training)
    args.weights = args.weights or os.path.join(ROOT, training['weights_out'])
    os.makedirs(args.renders, exist_ok=True)
    os.makedirs(args.images, exist_ok=True)
    with open(os.path.join(args.corpus, 'index.json'), encoding='utf-8') as f:
        index = json.load(f)
    artists = [a for a in model_cfg['labels']['artists'] if a != 'unknown']
    genres = [g for g in model_cfg['labels']['genres'] if g != 'unknown']

    result = {}
    result['trainingSeconds'] = []  # per round
    for work in works:  # a stage a round carried over has no record there
        seconds = {}
        for stage in ('vqvae', 'prior2', 'prior1', 'prior0'):
            record = stage_record(work, stage)
            if record:
                seconds[stage] = round(record['seconds'])
                if stage == 'vqvae':
                    result['vqvaeHeldOut'] = record['heldOut']  # the last round that trained it
        result['trainingSeconds'].append(seconds)
    training_curves_png(works, os.path.join(args.images, 'tiny-training-curves.png'))
    result['priorsHeldOut'] = prior_nll(works[-1], args.corpus, os.path.abspath(args.weights), model_cfg)
    # The round before (the weights this round started from, with that round's model config), same codes.
    before = previous_round(training)
    if before:
        result['priorsHeldOutRoundBefore'] = {'weights': before[0], 'levels': prior_nll(
            works[-1], args.corpus, os.path.join(ROOT, before[0]), before[1])}
    for p in result['priorsHeldOut']:
        print(f'level {p["level"]}: held-out NLL {p["heldOutNllNats"]:.2f} nats/token, sampled tokens '
              f'{p["sampledNllNats"]:.2f} (uniform {p["uniformNats"]:.2f})')
    for p in result.get('priorsHeldOutRoundBefore', {}).get('levels', []):
        print(f'round before, level {p["level"]}: held-out NLL {p["heldOutNllNats"]:.2f}, sampled tokens '
              f'{p["sampledNllNats"]:.2f}')

    corpus = {'artist': {}, 'genre': {}}
    held = []
    for c in index['clips']:
        d = descriptors(read_wav(os.path.join(args.corpus, c['file'])))
        corpus['artist'].setdefault(c['artist'], []).append(d)
        corpus['genre'].setdefault(c['genres'][0], []).append(d)
        if c['split'] == 'held_out':
            held.append(d)
    noise = np.random.default_rng(0).normal(0, 0.1, SR * args.seconds).astype(np.float32)
    result['reference'] = {'heldOutClips': summarise(held), 'whiteNoise': descriptors(noise)}
    if args.baseline_render:
        result['reference']['randomModelRender'] = descriptors(read_wav(args.baseline_render))

    # The README's command (20 s, no labels), then without labels at --seconds for more seeds.
    readme = os.path.join(args.renders, 'readme-song.wav')
    render(args.model, readme, 20, 1, '', [])
    x = read_wav(readme)
    result['readmeRender'] = descriptors(x)
    spectrogram_png(x, 'npx jukebox render --seconds 20 --seed 1 --workers 2 (no labels)',
                    os.path.join(args.images, 'tiny-render.png'))
    rows = []
    for seed in range(1, args.seeds + 1):
        path = os.path.join(args.renders, f'unlabelled-{seed}.wav')
        render(args.model, path, args.seconds, seed, '', [])
        rows.append(descriptors(read_wav(path)))
    renders = {'artist': {}, 'genre': {}, 'unlabelled': summarise(rows)}
    print('unlabelled: ' + ', '.join(f'{k} {v["median"]:.3g}' for k, v in renders['unlabelled'].items()))
    for kind, names in (('artist', artists), ('genre', genres)):
        for name in names:
            rows = []
            for seed in range(1, args.seeds + 1):
                path = os.path.join(args.renders, f'{kind}-{name}-{seed}.wav')
                if kind == 'artist':
                    render(args.model, path, args.seconds, seed, name, [])
                else:
                    render(args.model, path, args.seconds, seed, '', [name])
                x = read_wav(path)
                rows.append(descriptors(x))
                if seed == 1:
                    spectrogram_png(x, f'jukebox render --{kind} {name} --seed 1 ({args.seconds} s)',
                                    os.path.join(args.images, f'tiny-{kind}-{name}.png'))
            renders[kind][name] = summarise(rows)
            print(f'{kind} {name}: ' + ', '.join(f'{k} {v["median"]:.3g}' for k, v in renders[kind][name].items()))
    result['renders'] = renders
    result['corpusByLabel'] = {k: {n: summarise(v) for n, v in d.items()} for k, d in corpus.items()}
    result['renders']['all'] = summarise([r for kind in ('artist', 'genre', 'unlabelled') for r in
                                          [descriptors(read_wav(os.path.join(args.renders, f)))
                                           for f in sorted(os.listdir(args.renders)) if f.startswith(kind)]])
    # Does a label move a descriptor the way the corpus does? Rank correlation over the labels.
    agree = {}
    for kind in ('artist', 'genre'):
        names = [n for n in renders[kind] if n in result['corpusByLabel'][kind]]
        for key in ('periodicity', 'onsetRate', 'centroidHz', 'pulseClarity', 'flatness'):
            a = np.array([result['corpusByLabel'][kind][n][key]['median'] for n in names])
            b = np.array([renders[kind][n][key]['median'] for n in names])
            ra, rb = a.argsort().argsort(), b.argsort().argsort()
            agree[f'{kind}:{key}'] = float(np.corrcoef(ra, rb)[0, 1])
    result['labelRankCorrelation'] = agree
    print('rank correlation of label medians, renders vs corpus:', json.dumps(agree))
    result['chain'] = chain(args.corpus, works[-1], model_cfg, os.path.abspath(args.weights), args.model, args.renders,
                            args.images)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w', encoding='utf-8') as f:
        json.dump(result, f, indent=1)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
