#!/usr/bin/env python3
"""Exports small random configurations of each official prior family and writes PyTorch reference
logits of the official whole-window forward, for tests/exported-families.test.ts.

    /usr/bin/python3 tools/check_exported.py --out DIR

DIR/<family>/ gets levelL.conditioner.onnx, levelL.step.onnx (+ .data files where external data is
exercised), level.json (the manifest's level entry) and reference.json (labels, upper tokens, the
window's input sequence and the logits at every position). Families: 5b-like (fp16 weights kept
fp16 in the graph), 5b_lyrics-like (lyric encoder + cross-attention, external data),
1b_lyrics-like (merged vocabulary, lyric prefix, prime attention), upsampler_level_1-like and
upsampler_level_0-like.
"""
import argparse
import json
import os
import random
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

SMALL = dict(n_ctx=128, prior_width=64, heads=2, blocks=8, m_attn=0.5, min_duration=1.0, max_duration=600.0,
             sr=16000, y_bins=[12, 20], t_bins=32)
VQ = {'levels': 3, 'downs_t': [3, 2, 2], 'strides_t': [2, 2, 2], 'l_bins': 64}

FAMILIES = {
    '5b': dict(preset='prior_5b', prior_depth=6, fp16_round=True),
    '5b_lyrics': dict(preset='prior_5b_lyrics', prior_depth=20, n_tokens=32, prime_width=32, prime_depth=3,
                      prime_heads=1, prime_blocks=4, fp16_params=False, external_threshold=100_000),
    '1b_lyrics': dict(preset='prior_1b_lyrics', prior_depth=32, n_tokens=24, y_bins=[10, 16], max_bow_genre_size=1),
    'upsampler_level_1': dict(preset='upsampler_level_1', prior_depth=6, cond_width=32, cond_depth=3),
    'upsampler_level_0': dict(preset='upsampler_level_0', prior_depth=4, cond_width=32, cond_depth=2),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True)
    ap.add_argument('--families', default=','.join(FAMILIES))
    args = ap.parse_args()

    import torch
    from jukebox_model.export import (example_labels, example_sequence, export_level, hop_lengths,
                                      level_manifest, self_check)
    from jukebox_model.hparams import prior_hps
    from jukebox_model.init import randomise
    from jukebox_model.prior import SimplePrior

    torch.set_num_threads(1)
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    warnings.filterwarnings('ignore', category=UserWarning, module='torch.onnx')
    init = json.load(open(os.path.join(HERE, 'configs', 'tiny.json')))['init']
    hops = hop_lengths(VQ)
    summary = {}
    for seed, fam in enumerate(args.families.split(',')):
        spec = dict(FAMILIES[fam])
        preset = spec.pop('preset')
        fp16_round = spec.pop('fp16_round', False)
        external = spec.pop('external_threshold', 2 ** 31)
        hps = prior_hps(preset, **{**SMALL, **spec})
        torch.manual_seed(seed)
        prior = SimplePrior(hps, VQ)
        randomise(prior, init, torch.Generator().manual_seed(1000 + seed))
        if fp16_round:  # as an fp16 checkpoint: Conv1D weights exactly representable in fp16
            with torch.no_grad():
                for name, p in prior.named_parameters():
                    if name.endswith('.w'):
                        p.copy_(p.half().float())
        prior.eval()
        out = os.path.join(args.out, fam)
        os.makedirs(out, exist_ok=True)
        hop = hops[prior.level]
        files = export_level(prior, out, hop, hops[-1], 17, fp16_weights=prior.fp16_params,
                             external_threshold=external, log=lambda *a: None, loop=True, fp16=True)
        lm = level_manifest(prior, hop, 0.5, 32, files, out)
        rng = random.Random(seed)
        labels = example_labels(prior, hop, hops[-1], 2, rng)
        upper = None
        if prior.x_cond:
            upper = torch.tensor([[rng.randrange(0, prior.bins) for _ in range(prior.n_ctx // prior.cond_downsample)]
                                  for _ in range(2)], dtype=torch.int64)
        seq = example_sequence(prior, labels, prior.seq_len, rng)
        with torch.no_grad():
            full = prior.full_logits(labels, upper, seq)
        err1, err2 = self_check(prior, labels, upper, seq, full, chunk=32)
        if max(err1, err2) > 1e-5:
            raise RuntimeError(f'{fam}: PyTorch cached path differs from the whole-window forward ({err1}, {err2})')
        ref = {
            'family': fam,
            'attnFuncs': prior.prior.transformer.attn_funcs,
            'labels': labels.tolist(),
            'upperTokens': upper.tolist() if upper is not None else None,
            'tokens': seq.tolist(),
            # logits[p][row]: the V logits at position p
            'logits': [[[float(f'{v:.8g}') for v in full[r, p].tolist()] for r in range(2)]
                       for p in range(seq.shape[1])],
        }
        with open(os.path.join(out, 'level.json'), 'w') as f:
            json.dump(lm, f, indent=1)
        with open(os.path.join(out, 'reference.json'), 'w') as f:
            json.dump(ref, f, separators=(',', ':'))
        summary[fam] = {'files': sorted(os.listdir(out)), 'pytorchCachedVsFull': [err1, err2],
                        'fp16Weights': prior.fp16_params}
        print(f'{fam}: layers {prior.prior.transformer.attn_funcs}, cached vs full {err1:.1e}/{err2:.1e}',
              file=sys.stderr)
    with open(os.path.join(args.out, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)


if __name__ == '__main__':
    main()
