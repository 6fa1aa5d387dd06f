#!/usr/bin/python3
"""Exports a "real-width layer stack" of a Jukebox prior for the GPU check (bench/gpu-check.ts).

    /usr/bin/python3 tools/gpu_stack.py --config upsampler|top --out OUT [--small]

The official preset (tools/configs/presets.json) at its real width, context, heads and blocks, but only
`prior_depth` 3 layers: one cycle of the row / column / previous-row attention of attn_order 2, so a step's
per-layer cost, the trimmed KV cache of each kind and the fused loop graph are what a full model has, at a
fraction of its size. Weights are random (jukebox_model.init.randomise with the tiny model's scales, as
tools/check_exported.py); `prior_5b` keeps fp16 weights in the file as its checkpoint does.

  upsampler  upsampler_level_0: width 1920, n_ctx 8192, 1 head, 128 blocks, the 1024-wide upper-token conditioner
  top        prior_5b:          width 4800, n_ctx 8192, 8 heads, 128 blocks, timing conditioning, no lyrics

--small shrinks width / n_ctx / blocks (64 / 256 / 16, conditioner 32 wide and 2 deep) so the same script and
bench can be validated on a CPU in seconds. Full size on one core: the upsampler takes about 7 minutes (tracing its
1024-wide, 16-block upper-token conditioner at full context; --threads and --cond-depth shorten it) and 3.8 GB of
memory, 1.1 GB of files; the top about 80 s, 5.7 GB of memory, 1.4 GB of files (fp16 weights in the file).

OUT/<config>/ gets levelL.conditioner.onnx, levelL.step.onnx, levelL.loop.onnx (+ .data files for a graph over
2 GB), level.json (the manifest's level entry, jukebox_model.export.level_manifest) and stack.json (the
configuration, label rows for the bench, file sizes). File sizes are printed.
"""
import argparse
import json
import os
import random
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

CONFIGS = {
    'upsampler': dict(preset='upsampler_level_0'),
    'top': dict(preset='prior_5b'),
}
DEPTH = 3  # attn_order 2: row, column, previous row
SMALL = dict(prior_width=64, n_ctx=256, blocks=16)
SMALL_UPSAMPLER = dict(cond_width=32, cond_depth=2)
OPSET = 17
PREFILL_CHUNK = 32
SAMPLING_CHUNK = 64
LABEL_ROWS = 4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--config', required=True, choices=sorted(CONFIGS))
    ap.add_argument('--out', required=True, help='OUT: the stack is written to OUT/<config>/')
    ap.add_argument('--small', action='store_true', help='width 64, n_ctx 256, blocks 16: a CPU-sized check')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    ap.add_argument('--cond-depth', type=int, default=None,
                    help='upsampler only: residual blocks of the upper-token conditioner (preset: 16). Tracing the '
                         'full one at full context costs most of the export (~400 CPU-seconds); the sampling '
                         'measurements do not involve it, only the conditioner time per window does')
    args = ap.parse_args()

    import torch
    from jukebox_model.export import TWO_GB, example_labels, export_level, hop_lengths, level_manifest
    from jukebox_model.hparams import prior_hps, vqvae_hps
    from jukebox_model.init import randomise
    from jukebox_model.prior import SimplePrior

    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    warnings.filterwarnings('ignore', category=UserWarning, module='torch.onnx')

    preset = CONFIGS[args.config]['preset']
    overrides = dict(prior_depth=DEPTH)
    if args.small:
        overrides.update(SMALL)
        if preset.startswith('upsampler'):
            overrides.update(SMALL_UPSAMPLER)
    if args.cond_depth is not None:
        if not preset.startswith('upsampler'):
            ap.error('--cond-depth applies to the upsampler only')
        overrides['cond_depth'] = args.cond_depth
    hps = prior_hps(preset, **overrides)
    vq = vqvae_hps()
    hops = hop_lengths(vq)

    t0 = time.time()
    torch.manual_seed(args.seed)
    prior = SimplePrior(hps, vq)
    init = json.load(open(os.path.join(HERE, 'configs', 'tiny.json')))['init']
    randomise(prior, init, torch.Generator().manual_seed(1000 + args.seed))
    if prior.fp16_params:  # as an fp16 checkpoint: Conv1D weights exactly representable in fp16, kept fp16 in the file
        with torch.no_grad():
            for name, p in prior.named_parameters():
                if name.endswith('.w'):
                    p.copy_(p.half().float())
    prior.eval()
    n_params = sum(p.numel() for p in prior.parameters())
    attn = prior.prior.transformer.attn_funcs
    log(f'{args.config} ({preset}{", small" if args.small else ""}): width {prior.width}, n_ctx {prior.n_ctx}, '
        f'heads {prior.heads}, head_dim {prior.head_dim}, blocks {hps["blocks"]}, layers {attn}, '
        f'{n_params / 1e6:.1f} M parameters, fp16 weights {prior.fp16_params} ({time.time() - t0:.1f} s to build)')

    out = os.path.join(args.out, args.config)
    os.makedirs(out, exist_ok=True)
    hop = hops[prior.level]
    t1 = time.time()
    files = export_level(prior, out, hop, hops[-1], OPSET, fp16_weights=prior.fp16_params,
                         external_threshold=TWO_GB, log=log, loop=True)
    log(f'exported in {time.time() - t1:.1f} s')
    lm = level_manifest(prior, hop, 0.5, PREFILL_CHUNK, files, out, SAMPLING_CHUNK)
    with open(os.path.join(out, 'level.json'), 'w') as f:
        json.dump(lm, f, indent=1)

    labels = example_labels(prior, hop, hops[-1], LABEL_ROWS, random.Random(args.seed))
    sizes = {}
    for kind, names in files.items():
        for name in names:
            sizes[name] = os.path.getsize(os.path.join(out, name))
    stack = {
        'config': args.config,
        'preset': preset,
        'small': args.small,
        'overrides': overrides,
        'sampleRate': hps['sr'],
        'parameters': n_params,
        'fp16Weights': prior.fp16_params,
        'attnFuncs': attn,
        # label rows as the host builds them (a song inside the timing ranges, a window inside it), one per batch row
        'labels': labels.tolist(),
        'files': sizes,
    }
    with open(os.path.join(out, 'stack.json'), 'w') as f:
        json.dump(stack, f, indent=1)
    for name, size in sizes.items():
        print(f'{os.path.join(out, name)}\t{size / 1e6:.1f} MB')
    print(f'total\t{sum(sizes.values()) / 1e6:.1f} MB')


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


if __name__ == '__main__':
    main()
