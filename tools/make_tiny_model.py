#!/usr/bin/env python3
"""Builds models/tiny: a small configuration of the official Jukebox architecture (tools/configs/tiny.json),
random weights unless trained ones are given (--weights, or the config's "weights"), exported by the same
exporter as the official checkpoints.

    /usr/bin/python3 tools/make_tiny_model.py [--config tools/configs/tiny.json] [--out models/tiny]
        [--weights tools/train/tiny-music-v0.pt] [--fixture tests/fixtures/tiny-reference.json | --no-fixture]
    /usr/bin/python3 tools/make_tiny_model.py --random --out tests/fixtures/tiny-random --no-fixture

--random: the random weights, float32 graphs only, kept for the tests that pin a random model's tokens
(tests/golden.test.ts, the near-tie regression of tests/fused-loop.test.ts) and the start-mode tests.
Deterministic: the same config and weights give byte-identical files.
"""
import argparse
import json
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep __pycache__ out of the work tree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--config', default=os.path.join(HERE, 'configs', 'tiny.json'))
    ap.add_argument('--out', default=os.path.join(ROOT, 'models', 'tiny'))
    ap.add_argument('--fixture', default=os.path.join(ROOT, 'tests', 'fixtures', 'tiny-reference.json'))
    ap.add_argument('--no-fixture', action='store_true', help='do not write the PyTorch reference fixture')
    ap.add_argument('--weights', help='trained weights (tools/train/train_tiny_music.py) instead of random ones')
    ap.add_argument('--random', action='store_true',
                    help='the random weights of the same architecture, float32 graphs only (tests/fixtures/tiny-random)')
    args = ap.parse_args()

    import torch
    from jukebox_model.tiny import make_model

    torch.set_num_threads(1)  # deterministic float reductions for the fixture
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    warnings.filterwarnings('ignore', category=UserWarning, module='torch.onnx')
    with open(args.config, encoding='utf-8') as f:
        cfg = json.load(f)
    if args.random:
        cfg.pop('weights', None)
        cfg['fp16_graphs'] = False
    elif args.weights:
        cfg['weights'] = os.path.abspath(args.weights)
    elif cfg.get('weights'):  # relative to the config's folder
        cfg['weights'] = os.path.join(os.path.dirname(os.path.abspath(args.config)), cfg['weights'])
    manifest = make_model(cfg, args.out, None if args.no_fixture else args.fixture)
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f'wrote {args.out} ({total / 1e6:.2f} MB, {len(manifest["levels"])} levels)')


if __name__ == '__main__':
    main()
