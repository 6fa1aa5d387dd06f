"""VQ-VAE decode path shaped like jukebox/vqvae: bottleneck codebooks and one decoder per level.

Only what sampling needs is built (no encoders): a level's tokens are dequantised with that
level's codebook and decoded by that level's own decoder to raw audio.
"""
import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# A layer of the decode path as seen by the receptive-field walk:
# ('conv', kernel, dilation, padding) stride 1, or ('convT', kernel, stride, padding),
# or ('res', kernel, dilation, padding) for a residual branch (identity + conv).
LayerSpec = Tuple[str, int, int, int]


class ResConv1DBlock(nn.Module):
    def __init__(self, n_in: int, n_state: int, dilation: int = 1, res_scale: float = 1.0):
        super().__init__()
        self.dilation = dilation
        self.model = nn.Sequential(
            nn.ReLU(),
            nn.Conv1d(n_in, n_state, 3, 1, dilation, dilation),
            nn.ReLU(),
            nn.Conv1d(n_state, n_in, 1, 1, 0),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.model(x)

    def layer_specs(self) -> List[LayerSpec]:
        return [('res', 3, self.dilation, self.dilation)]


class Resnet1D(nn.Module):
    def __init__(self, n_in: int, n_depth: int, m_conv: float = 1.0, dilation_growth_rate: int = 1,
                 dilation_cycle: Optional[int] = None, res_scale: bool = False, reverse_dilation: bool = False,
                 checkpoint_res: bool = False):
        super().__init__()

        def depth_for(d: int) -> int:
            return d if dilation_cycle is None else d % dilation_cycle

        scale = 1.0 if not res_scale else 1.0 / math.sqrt(n_depth)
        blocks = [ResConv1DBlock(n_in, int(m_conv * n_in), dilation_growth_rate ** depth_for(d), scale)
                  for d in range(n_depth)]
        if reverse_dilation:
            blocks = blocks[::-1]
        # The official code names the blocks `blocks` (a ModuleList) when checkpoint_res is set, else `model`.
        self.checkpoint_res = bool(checkpoint_res)
        if self.checkpoint_res:
            self.blocks = nn.ModuleList(blocks)
        else:
            self.model = nn.Sequential(*blocks)

    def _blocks(self):
        return self.blocks if self.checkpoint_res else self.model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self._blocks():
            x = block(x)
        return x

    def layer_specs(self) -> List[LayerSpec]:
        return [s for block in self._blocks() for s in block.layer_specs()]


class DecoderConvBock(nn.Module):
    """3-tap conv in, then down_t x [Resnet1D, ConvTranspose1d(2*stride, stride, stride//2)]."""

    def __init__(self, input_emb_width: int, output_emb_width: int, down_t: int, stride_t: int, width: int,
                 depth: int, m_conv: float, dilation_growth_rate: int = 1, dilation_cycle: Optional[int] = None,
                 res_scale: bool = False, reverse_decoder_dilation: bool = False, checkpoint_res: bool = False):
        super().__init__()
        blocks: List[nn.Module] = []
        if down_t > 0:
            filter_t, pad_t = stride_t * 2, stride_t // 2
            blocks.append(nn.Conv1d(output_emb_width, width, 3, 1, 1))
            for i in range(down_t):
                out_ch = input_emb_width if i == down_t - 1 else width
                blocks.append(nn.Sequential(
                    Resnet1D(width, depth, m_conv, dilation_growth_rate, dilation_cycle, res_scale,
                             reverse_decoder_dilation, checkpoint_res),
                    nn.ConvTranspose1d(width, out_ch, filter_t, stride_t, pad_t),
                ))
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def layer_specs(self) -> List[LayerSpec]:
        specs: List[LayerSpec] = []
        for i, block in enumerate(self.model):
            if i == 0:
                specs.append(('conv', block.kernel_size[0], block.dilation[0], block.padding[0]))
            else:
                resnet, up = block[0], block[1]
                specs.extend(resnet.layer_specs())
                specs.append(('convT', up.kernel_size[0], up.stride[0], up.padding[0]))
        return specs


class Decoder(nn.Module):
    """One level's decoder: level blocks run top-down (levels-1 ... 0), then a 3-tap conv to audio channels."""

    def __init__(self, input_emb_width: int, output_emb_width: int, levels: int, downs_t: List[int],
                 strides_t: List[int], **block_kwargs):
        super().__init__()
        self.levels = levels
        self.level_blocks = nn.ModuleList(
            DecoderConvBock(output_emb_width, output_emb_width, down_t, stride_t, **block_kwargs)
            for down_t, stride_t in zip(downs_t, strides_t))
        self.out = nn.Conv1d(output_emb_width, input_emb_width, 3, 1, 1)

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        # all_levels=False as in sampling: only the given level's codes feed its decoder.
        x = xs[-1]
        for level in reversed(range(self.levels)):
            x = self.level_blocks[level](x)
        return self.out(x)

    def layer_specs(self) -> List[LayerSpec]:
        specs: List[LayerSpec] = []
        for level in reversed(range(self.levels)):
            specs.extend(self.level_blocks[level].layer_specs())
        specs.append(('conv', self.out.kernel_size[0], self.out.dilation[0], self.out.padding[0]))
        return specs


class BottleneckBlock(nn.Module):
    def __init__(self, k_bins: int, emb_width: int):
        super().__init__()
        self.k_bins = k_bins
        self.emb_width = emb_width
        self.register_buffer('k', torch.zeros(k_bins, emb_width))

    def dequantise(self, x_l: torch.Tensor) -> torch.Tensor:
        return F.embedding(x_l, self.k)  # [N, T, emb_width]

    def decode(self, x_l: torch.Tensor) -> torch.Tensor:
        return self.dequantise(x_l).permute(0, 2, 1)  # [N, emb_width, T]


class Bottleneck(nn.Module):
    def __init__(self, l_bins: int, emb_width: int, levels: int):
        super().__init__()
        self.level_blocks = nn.ModuleList(BottleneckBlock(l_bins, emb_width) for _ in range(levels))


class VQVAE(nn.Module):
    """The decode half of Jukebox's VQVAE: `bottleneck.level_blocks[L].k` and `decoders[L]`."""

    def __init__(self, hps: dict):
        super().__init__()
        levels = hps['levels']
        self.levels = levels
        self.downs_t = hps['downs_t']
        self.strides_t = hps['strides_t']
        self.out_tanh = bool(hps.get('out_tanh', False))
        mult = hps.get('hvqvae_multipliers') or [1] * levels
        self.hop_lengths = []
        hop = 1
        for d, s in zip(self.downs_t, self.strides_t):
            hop *= s ** d
            self.hop_lengths.append(hop)

        def block_kwargs(level: int) -> dict:
            return dict(width=hps['width'] * mult[level], depth=hps['depth'] * mult[level], m_conv=hps['m_conv'],
                        dilation_growth_rate=hps['dilation_growth_rate'], dilation_cycle=hps['dilation_cycle'],
                        reverse_decoder_dilation=hps['vqvae_reverse_decoder_dilation'])

        self.decoders = nn.ModuleList(
            Decoder(1, hps['emb_width'], level + 1, self.downs_t[:level + 1], self.strides_t[:level + 1],
                    **block_kwargs(level))
            for level in range(levels))
        self.bottleneck = Bottleneck(hps['l_bins'], hps['emb_width'], levels)

    def decode_level(self, tokens: torch.Tensor, level: int) -> torch.Tensor:
        """int64 [N, T] -> float [N, T * hop_lengths[level]]."""
        x = self.bottleneck.level_blocks[level].decode(tokens)
        x = self.decoders[level]([x])
        if self.out_tanh:
            x = torch.tanh(x)
        return x[:, 0, :]


def receptive_field_tokens(specs: List[LayerSpec], hop: int) -> Tuple[int, int]:
    """Walks the layers from one output sample back to the token sequence.

    Returns (left, right): an output sample of token t depends on tokens [t - left, t + right] at most,
    the maximum over the `hop` samples of a token.
    """
    t0 = 1 << 20  # far from the edges, so no interval reaches index 0
    left = right = 0
    for r in range(hop):
        lo = hi = t0 * hop + r
        for kind, k, a, p in reversed(specs):
            if kind == 'conv':  # stride 1, dilation a: out[i] reads in[i - p + j*a]
                lo, hi = lo - p, hi - p + (k - 1) * a
            elif kind == 'res':  # identity plus a dilated conv: the hull of both
                lo, hi = min(lo, lo - p), max(hi, hi - p + (k - 1) * a)
            elif kind == 'convT':  # stride a: out[o] gets in[i] where 0 <= o + p - i*a <= k-1
                lo, hi = -((-(lo + p - (k - 1))) // a), (hi + p) // a
            else:
                raise ValueError(kind)
        left = max(left, t0 - lo)
        right = max(right, hi - t0)
    return left, right
