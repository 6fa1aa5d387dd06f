"""Deterministic random initialisation of every parameter and buffer from one seed.

Official initialisation zeroes several tensors (codebooks, some projections), which makes a random
model degenerate; here every tensor gets random values with scales chosen so that activations stay
O(1) and logits have a standard deviation of about 1-2. The VQ-VAE (vqvae_official) is randomised by
tiny.random_official_vqvae, which also sets the level of its decoded audio.
"""
import math

import torch
import torch.nn as nn

from .conditioners import RangeEmbedding, SimpleEmbedding, Conditioner
from .ops import Conv1D, LayerNorm
from .prior import ConditionalAutoregressive2D, PositionEmbedding
from .vqvae_official import BottleneckBlock


def _normal(t: torch.Tensor, std: float, gen: torch.Generator, mean: float = 0.0) -> None:
    with torch.no_grad():
        t.copy_(torch.randn(t.shape, generator=gen) * std + mean)


def randomise(model: nn.Module, init: dict, gen: torch.Generator) -> None:
    bias_std = init['bias_std']
    done = set()

    def once(p: torch.Tensor) -> bool:
        if id(p) in done:
            return False
        done.add(id(p))
        return True

    # First pass: containers whose children need non-default scales.
    for name, m in model.named_modules():
        if isinstance(m, ConditionalAutoregressive2D):
            if once(m.x_emb.weight):
                std = init['tied_x_emb_std'] if getattr(m, 'share_x_emb_x_out', False) and not m.only_encode \
                    else init['x_emb_std']
                _normal(m.x_emb.weight, std, gen)
            if not m.only_encode and once(m.x_out.weight):
                _normal(m.x_out.weight, init['x_out_std'], gen)
            if hasattr(m, 'start_token') and once(m.start_token):
                _normal(m.start_token, init['label_emb_std'], gen)
        elif isinstance(m, Conditioner):
            if once(m.x_emb.weight):
                _normal(m.x_emb.weight, init['cond_x_emb_std'], gen)

    for name, m in model.named_modules():
        if isinstance(m, (SimpleEmbedding, RangeEmbedding)):
            if once(m.emb.weight):
                _normal(m.emb.weight, init['label_emb_std'], gen)
        elif isinstance(m, PositionEmbedding):
            if once(m.pos_emb):
                _normal(m.pos_emb, init['pos_emb_std'], gen)
        elif isinstance(m, BottleneckBlock):
            if once(m.k):
                _normal(m.k, init['codebook_std'], gen)
        elif isinstance(m, Conv1D):
            gain = init['resid_gain'] if name.endswith('c_proj') else init['proj_gain']
            if once(m.w):
                _normal(m.w, gain / math.sqrt(m.n_in), gen)
            if once(m.b):
                _normal(m.b, bias_std, gen)
        elif isinstance(m, LayerNorm):
            if once(m.weight):
                _normal(m.weight, init['ln_weight_jitter'], gen, mean=1.0)
            if once(m.bias):
                _normal(m.bias, bias_std, gen)
        elif isinstance(m, nn.ConvTranspose1d):
            fan_in = m.in_channels * m.kernel_size[0] / m.stride[0]
            if once(m.weight):
                _normal(m.weight, init['proj_gain'] / math.sqrt(fan_in), gen)
            if once(m.bias):
                _normal(m.bias, bias_std, gen)
        elif isinstance(m, nn.Conv1d):
            fan_in = m.in_channels * m.kernel_size[0]
            if once(m.weight):
                _normal(m.weight, init['proj_gain'] / math.sqrt(fan_in), gen)
            if once(m.bias):
                _normal(m.bias, bias_std, gen)
        elif isinstance(m, nn.Embedding):
            if once(m.weight):
                _normal(m.weight, init['x_emb_std'], gen)
        elif isinstance(m, nn.Linear):  # prime_x_out (training loss only)
            if once(m.weight):
                _normal(m.weight, init['x_out_std'], gen)

    missing = [n for n, p in list(model.named_parameters()) + list(model.named_buffers()) if id(p) not in done]
    if missing:
        raise RuntimeError(f'parameters left without a random initialisation: {missing}')
