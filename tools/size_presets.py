#!/usr/bin/python3
"""Shapes and exact parameter counts of the released Jukebox priors, as one JSON object on stdout.

Read by bench/sizing.ts. For each released configuration (the 5b, 5b_lyrics and 1b_lyrics top priors
and the two upsamplers, from tools/configs/presets.json completed by `prior_hps`) it builds the
project's own SimplePrior (tools/jukebox_model) at the real width and context but only one and two
layers, so the full model is never allocated, and counts parameters exactly:

  total = params(depth 1) - block(layer 0) + sum over the full depth of block(kind of layer d)

where block(kind) is the parameter count of one ResAttnBlock of that attention kind built standalone
(cross-attention blocks differ in layout, not in count, but they are counted on their own anyway).
The depth-2 model checks the per-layer part: params(depth 2) - params(depth 1) must equal block(layer 1).

Parameters are split as the exported graphs hold them: the step graph (`prior`: embeddings, position
embedding, transformer, output projection), the conditioner graph (label/timing embeddings, the
upsamplers' upper-token conditioner, the 5b_lyrics lyric encoder with its projection and layer norm)
and training-only (`prime_x_out`, the lyric encoder's loss head, exported nowhere).

Also printed: the layer kinds of the full depth (0 dense, 1 row, 2 column, 3 previous row, 6 cross,
7 prime), heads, head_dim, n_ctx, the window's sequence length (prefix lyrics count), blocks,
block_ctx, prime_keys, n_tokens, vocabulary, width and the hop fraction of the official sample.py
(0.5, 0.5, 0.125 for levels 0, 1, 2; not part of the presets).

Run with Debian's python (PyTorch 1.13): /usr/bin/python3 tools/size_presets.py
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from jukebox_model.hparams import prior_hps, vqvae_hps  # noqa: E402
from jukebox_model.prior import SimplePrior  # noqa: E402
from jukebox_model.transformer import CROSS, PRIME, ResAttnBlock, attn_pattern  # noqa: E402

# name in the output -> official preset name
CONFIGS = {
    '5b_lyrics': 'prior_5b_lyrics',
    '5b': 'prior_5b',
    '1b_lyrics': 'prior_1b_lyrics',
    'upsampler_level_1': 'upsampler_level_1',
    'upsampler_level_0': 'upsampler_level_0',
}

# The official sample.py's --hop_fraction=0.5,0.5,0.125, indexed by level (0 = bottom).
HOP_FRACTION = {0: 0.5, 1: 0.5, 2: 0.125}

# Parameters only the training loss uses (exported in no graph).
TRAINING_ONLY = ('prime_x_out.',)
# Modules of SimplePrior that the conditioner graph holds; everything under `prior.` is the step graph.
CONDITIONER = ('y_emb.', 'conditioner_blocks.', 'prime_prior.', 'prime_state_proj.', 'prime_state_ln.')


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())  # parameters() yields a tied weight once


def split(prior: SimplePrior) -> dict:
    parts = {'step': 0, 'conditioner': 0, 'trainingOnly': 0}
    seen = set()
    for name, p in prior.named_parameters():  # tied weights appear once
        if id(p) in seen:
            continue
        seen.add(id(p))
        if name.startswith(TRAINING_ONLY):
            parts['trainingOnly'] += p.numel()
        elif name.startswith(CONDITIONER):
            parts['conditioner'] += p.numel()
        elif name.startswith('prior.'):
            parts['step'] += p.numel()
        else:
            raise ValueError(f'unclassified parameter {name}')
    return parts


def block_params(hps: dict, prior: SimplePrior, kind: int) -> int:
    """One ResAttnBlock of attention kind `kind`, as the prior's Transformer builds it."""
    t = prior.prior.transformer
    encoder_dims = prior.n_tokens if (prior.n_tokens and not prior.single_enc_dec) else None
    prime_len = prior.prior.prime_len
    if kind == PRIME:
        assert prime_len is not None
    block = ResAttnBlock(t.n_in, t.n_ctx, t.n_head, hps['m_attn'], hps['m_mlp'], kind, t.blocks, encoder_dims,
                         prime_len)
    n = count(block)
    del block
    return n


def size(name: str, preset: str, vq: dict) -> dict:
    full = prior_hps(preset)
    depth = full['prior_depth']
    kinds = attn_pattern(full['attn_order'], depth)

    torch.manual_seed(0)
    p1 = SimplePrior(prior_hps(preset, prior_depth=1), vq)
    per_kind = {k: block_params(full, p1, k) for k in sorted(set(kinds))}
    parts1 = split(p1)
    layer0 = attn_pattern(full['attn_order'], 1)[0]
    fixed_step = parts1['step'] - per_kind[layer0]

    # Facts of the full model that do not depend on depth, read off the small one.
    t = p1.prior.transformer
    facts = {
        'level': p1.level,
        'hopFraction': HOP_FRACTION[p1.level],
        'hop': int(HOP_FRACTION[p1.level] * p1.n_ctx),  # official: int(hop_fraction[level] * prior.n_ctx)
        'nCtx': p1.n_ctx,
        'seqLen': p1.seq_len,
        'width': p1.width,
        'heads': p1.heads,
        'headDim': p1.head_dim,
        'kvWidth': p1.heads * p1.head_dim,
        'mAttn': full['m_attn'],
        'layers': depth,
        'kinds': kinds,
        'blocks': t.blocks,
        'blockCtx': t.block_ctx,
        'primeKeys': ((p1.prior.prime_len // t.blocks + 1) * t.blocks) if PRIME in kinds else None,
        'nTokens': p1.n_tokens,
        'lyrics': p1.lyrics_kind,
        'codebook': p1.bins,
        'vocab': p1.out_bins,
        'vocabOffset': p1.vocab_offset,
        'fp16Params': p1.fp16_params,
    }
    del p1

    # Check the per-layer part against a depth-2 model.
    p2 = SimplePrior(prior_hps(preset, prior_depth=2), vq)
    layer1 = attn_pattern(full['attn_order'], 2)[1]
    parts2 = split(p2)
    assert parts2['step'] - parts1['step'] == per_kind[layer1], (name, parts2['step'] - parts1['step'], per_kind)
    assert parts2['conditioner'] == parts1['conditioner'] and parts2['trainingOnly'] == parts1['trainingOnly']
    del p2

    step = fixed_step + sum(per_kind[k] for k in kinds)
    params = {
        'step': step,
        'stepFixed': fixed_step,
        'perLayerByKind': {str(k): v for k, v in per_kind.items()},
        'conditioner': parts1['conditioner'],
        'trainingOnly': parts1['trainingOnly'],
        'inference': step + parts1['conditioner'],
        'total': step + parts1['conditioner'] + parts1['trainingOnly'],
    }
    return {'name': name, 'preset': preset, **facts, 'crossLayers': [i for i, k in enumerate(kinds) if k == CROSS],
            'params': params}


def main() -> None:
    torch.set_grad_enabled(False)
    vq = vqvae_hps()
    out = {
        'source': 'tools/size_presets.py: official presets (tools/configs/presets.json) through prior_hps, '
                  'parameters counted on the project SimplePrior',
        'kindNames': {'0': 'dense', '1': 'row', '2': 'column', '3': 'previous row', '6': 'cross', '7': 'prime'},
        'configs': [size(name, preset, vq) for name, preset in CONFIGS.items()],
    }
    json.dump(out, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
