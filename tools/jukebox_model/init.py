"""Deterministic random weights from one seed, for every model of the port (priors and VQ-VAE).

`randomise` gives every parameter and buffer random values. The official initialisation zeroes several
tensors (codebooks, some projections), which makes a random model degenerate; here the scales are chosen so
that activations stay O(1) and logits have a standard deviation of about 1-2 (the `init` scales of
configs/tiny.json). `random_prior` and `random_vqvae` build the models of the exporter's --random-seed mode
(and of models/tiny, check_official.py, the test fixtures) with it; `random_vqvae` also sets the level of the
decoded audio.
"""
import math

import torch
import torch.nn as nn

from .conditioners import RangeEmbedding, SimpleEmbedding, Conditioner
from .ops import Conv1D, LayerNorm
from .prior import ConditionalAutoregressive2D, PositionEmbedding, SimplePrior
from .vqvae import VQVAE, BottleneckBlock


def _normal(t: torch.Tensor, std: float, gen: torch.Generator, mean: float = 0.0) -> None:
    with torch.no_grad():
        t.copy_(torch.randn(t.shape, generator=gen) * std + mean)


def randomise(model: nn.Module, init: dict, gen: torch.Generator) -> None:
    """Every tensor of `model` from `gen`, in module order: weights N(0, gain / sqrt(fan_in)) (a transposed
    conv's fan-in counts the taps one output sees), biases N(0, bias_std), embeddings and codebooks at their
    own scales, layer-norm gains 1 + N(0, ln_weight_jitter). Fails when a tensor is left out."""
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


def random_prior(hps: dict, vq: dict, seed: int, init: dict) -> SimplePrior:
    """The prior of one level (official prior hps, VQ-VAE hps `vq`) with random weights from seed + level."""
    torch.manual_seed(seed)
    prior = SimplePrior(hps, vq)
    randomise(prior, init, torch.Generator().manual_seed(seed + hps['level']))
    return prior.eval()


def random_vqvae(hps: dict, seed: int, init: dict, audio_std: float = 0.15) -> VQVAE:
    """The VQ-VAE of official VQ-VAE hps with random weights from `seed` (randomise: the official init zeroes
    the codebooks, learned by k-means, which would decode every token alike); each decoder's `out` conv is then
    rescaled so that the decoded audio of random tokens has a standard deviation of `audio_std`."""
    torch.manual_seed(seed)
    vqvae = VQVAE(hps)
    gen = torch.Generator().manual_seed(seed)
    randomise(vqvae, init, gen)
    vqvae.eval()
    with torch.no_grad():
        for level in range(vqvae.levels):
            tokens = torch.randint(0, vqvae.l_bins, (2, 64), generator=gen)
            std = float(vqvae.decode_level(tokens, level).std())
            out = vqvae.decoders[level].out
            out.weight.mul_(audio_std / std)
            out.bias.mul_(audio_std / std)
    return vqvae
