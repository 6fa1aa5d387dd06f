"""The official Jukebox VQ-VAE (encoders, bottleneck codebooks, decoders), compact, for checkpoint export.

Module and parameter names equal openai/jukebox's `VQVAE`, so the official `vqvae.pth.tar`
(`checkpoint['model']`) loads as is (strict; `checkpoints.load_vqvae`):

    encoders[L].level_blocks[l].model = [Sequential(Conv1d(4, 2, 1), Resnet1D) x down_t, Conv1d(3)]
    decoders[L].level_blocks[l].model = [Conv1d(3), Sequential(Resnet1D, ConvTranspose1d(4, 2, 1)) x down_t]
    decoders[L].out = Conv1d(emb_width -> 1, 3)
    Resnet1D.model[d] = ResConv1DBlock.model = [ReLU, Conv1d(3, dilation), ReLU, Conv1d(1)]
    bottleneck.level_blocks[L].k = codebook [l_bins, emb_width] (a buffer)

Built from official VQ-VAE hyperparameters (`hparams.vqvae_hps`). Level L has its own encoder and decoder
over levels 0..L of downs_t/strides_t, widths and depths multiplied by hvqvae_multipliers[L]. Sampling
decodes one level's tokens with that level's decoder only (`all_levels=False`). The decoder ends with the
`out` conv: no tanh.

The code is written from the description in docs and the official module names; it does not copy
the official implementation.
"""
import hashlib
import io
import math
import os
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .hparams import vqvae_hps

# ----------------------------------------------------------------------------------------------
# Modules


class ResConv1DBlock(nn.Module):
    def __init__(self, n_in: int, n_state: int, dilation: int, res_scale: float):
        super().__init__()
        self.dilation = dilation
        self.res_scale = res_scale
        self.model = nn.Sequential(nn.ReLU(), nn.Conv1d(n_in, n_state, 3, 1, dilation, dilation),
                                   nn.ReLU(), nn.Conv1d(n_state, n_in, 1))

    def forward(self, x):
        return x + self.res_scale * self.model(x)


class Resnet1D(nn.Module):
    """n_depth residual blocks; dilation growth ** (d or d % cycle); optionally in reverse order.
    The official code names the blocks `blocks` (a ModuleList) when checkpoint_res is set (the
    upsamplers' cond_c_res=1), else `model` (a Sequential); the computation is the same."""

    def __init__(self, n_in: int, n_depth: int, m_conv: float, growth: int, cycle: Optional[int],
                 res_scale: bool = False, reverse: bool = False, checkpoint_res: bool = False):
        super().__init__()
        scale = 1.0 / math.sqrt(n_depth) if res_scale else 1.0
        dil = [growth ** (d if cycle is None else d % cycle) for d in range(n_depth)]
        if reverse:
            dil = dil[::-1]
        blocks = [ResConv1DBlock(n_in, int(m_conv * n_in), a, scale) for a in dil]
        self.checkpoint_res = bool(checkpoint_res)
        if self.checkpoint_res:
            self.blocks = nn.ModuleList(blocks)
        else:
            self.model = nn.Sequential(*blocks)

    def forward(self, x):
        for block in (self.blocks if self.checkpoint_res else self.model):
            x = block(x)
        return x


def _level_block_kwargs(hps: dict, level: int) -> dict:
    mult = (hps['hvqvae_multipliers'] or (1,) * hps['levels'])[level]
    return dict(width=hps['width'] * mult, depth=hps['depth'] * mult, m_conv=hps['m_conv'],
                growth=hps['dilation_growth_rate'], cycle=hps['dilation_cycle'])


class EncoderConvBlock(nn.Module):
    def __init__(self, n_in: int, n_out: int, down_t: int, stride_t: int, width: int, depth: int, m_conv: float,
                 growth: int, cycle: Optional[int]):
        super().__init__()
        layers: List[nn.Module] = []
        for i in range(down_t):
            layers.append(nn.Sequential(
                nn.Conv1d(n_in if i == 0 else width, width, stride_t * 2, stride_t, stride_t // 2),
                Resnet1D(width, depth, m_conv, growth, cycle)))
        if down_t > 0:
            layers.append(nn.Conv1d(width, n_out, 3, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class DecoderConvBock(nn.Module):  # sic: the official class name
    """[Conv1d(emb -> width, 3), (Resnet1D, ConvTranspose1d(2 * stride, stride, stride // 2)) x down_t]:
    upsamples [N, emb, T] to [N, emb, T * stride_t ** down_t]. Also the upsamplers' Conditioner
    (`conditioner_blocks[0].cond`, with res_scale / checkpoint_res as cond_res_scale / cond_c_res)."""

    def __init__(self, emb: int, down_t: int, stride_t: int, width: int, depth: int, m_conv: float,
                 growth: int = 1, cycle: Optional[int] = None, reverse: bool = False, res_scale: bool = False,
                 checkpoint_res: bool = False):
        super().__init__()
        layers: List[nn.Module] = []
        if down_t > 0:
            layers.append(nn.Conv1d(emb, width, 3, 1, 1))
            for i in range(down_t):
                layers.append(nn.Sequential(
                    Resnet1D(width, depth, m_conv, growth, cycle, res_scale=res_scale, reverse=reverse,
                             checkpoint_res=checkpoint_res),
                    nn.ConvTranspose1d(width, emb if i == down_t - 1 else width, stride_t * 2, stride_t,
                                       stride_t // 2)))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class Encoder(nn.Module):
    """Level L's encoder: level blocks 0..L bottom-up; returns the last block's output [N, emb, T/hop]."""

    def __init__(self, hps: dict, level: int):
        super().__init__()
        kw = _level_block_kwargs(hps, level)
        emb = hps['emb_width']
        self.level_blocks = nn.ModuleList(
            EncoderConvBlock(1 if l == 0 else emb, emb, hps['downs_t'][l], hps['strides_t'][l], **kw)
            for l in range(level + 1))

    def forward(self, x):  # [N, 1, T]
        for block in self.level_blocks:
            x = block(x)
        return x


class Decoder(nn.Module):
    """Level L's decoder: level blocks L..0 top-down, then `out` to one channel (no tanh)."""

    def __init__(self, hps: dict, level: int):
        super().__init__()
        kw = _level_block_kwargs(hps, level)
        emb = hps['emb_width']
        self.level_blocks = nn.ModuleList(
            DecoderConvBock(emb, hps['downs_t'][l], hps['strides_t'][l],
                            reverse=hps['vqvae_reverse_decoder_dilation'], **kw)
            for l in range(level + 1))
        self.out = nn.Conv1d(emb, 1, 3, 1, 1)

    def forward(self, x):  # [N, emb, T] -> [N, 1, T * hop]
        for block in reversed(self.level_blocks):
            x = block(x)
        return self.out(x)


class BottleneckBlock(nn.Module):
    def __init__(self, l_bins: int, emb_width: int):
        super().__init__()
        self.register_buffer('k', torch.zeros(l_bins, emb_width))

    def quantise(self, x: torch.Tensor) -> torch.Tensor:
        """[M, emb] -> nearest codebook index [M] by squared distance |x|^2 - 2 x.k + |k|^2."""
        k_t = self.k.t()
        d = (x * x).sum(-1, keepdim=True) - 2 * (x @ k_t) + (k_t * k_t).sum(0, keepdim=True)
        return torch.argmin(d, dim=-1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # [N, emb, T] -> int64 [N, T]
        n, c, t = x.shape
        return self.quantise(x.permute(0, 2, 1).reshape(n * t, c)).reshape(n, t)

    def decode(self, z: torch.Tensor) -> torch.Tensor:  # int64 [N, T] -> [N, emb, T]
        return F.embedding(z, self.k).permute(0, 2, 1)


class Bottleneck(nn.Module):
    def __init__(self, l_bins: int, emb_width: int, levels: int):
        super().__init__()
        self.level_blocks = nn.ModuleList(BottleneckBlock(l_bins, emb_width) for _ in range(levels))


class VQVAE(nn.Module):
    def __init__(self, hps: dict):
        """hps: official VQ-VAE names (completed with the official defaults by vqvae_hps)."""
        super().__init__()
        self.hps = hps = vqvae_hps(hps)
        self.levels = hps['levels']
        self.l_bins = hps['l_bins']
        self.hop_lengths: List[int] = []
        hop = 1
        for d, s in zip(hps['downs_t'], hps['strides_t']):
            hop *= s ** d
            self.hop_lengths.append(hop)
        self.encoders = nn.ModuleList(Encoder(hps, l) for l in range(self.levels))
        self.decoders = nn.ModuleList(Decoder(hps, l) for l in range(self.levels))
        self.bottleneck = Bottleneck(hps['l_bins'], hps['emb_width'], self.levels)

    def encode_level(self, audio: torch.Tensor, level: int) -> torch.Tensor:
        """float [N, T] (T a multiple of the hop) -> int64 [N, T / hop_lengths[level]]."""
        return self.bottleneck.level_blocks[level].encode(self.encoders[level](audio[:, None, :]))

    def decode_level(self, tokens: torch.Tensor, level: int) -> torch.Tensor:
        """int64 [N, T] -> float [N, T * hop_lengths[level]]."""
        return self.decoders[level](self.bottleneck.level_blocks[level].decode(tokens))[:, 0, :]

    def encode(self, x: torch.Tensor, start_level: int = 0, end_level: Optional[int] = None) -> List[torch.Tensor]:
        """As the official `encode`: x [N, T, 1] -> codes of levels [start_level, end_level)."""
        end_level = self.levels if end_level is None else end_level
        return [self.encode_level(x[..., 0], l) for l in range(start_level, end_level)]

    def decode(self, zs: Sequence[torch.Tensor], start_level: int = 0, end_level: Optional[int] = None) -> torch.Tensor:
        """As the official `decode`: only zs[0] (level start_level) is decoded; -> [N, T * hop, 1]."""
        return self.decode_level(zs[0], start_level)[..., None]


# ----------------------------------------------------------------------------------------------
# Receptive field (analytic) and its perturbation check


def _decoder_layers(dec: Decoder) -> List[Tuple[str, int, int, int, int]]:
    """(kind, kernel, stride, dilation, padding) from the tokens to the audio; kind conv/convT/res."""
    out: List[Tuple[str, int, int, int, int]] = []

    def conv(m, kind):
        out.append((kind, m.kernel_size[0], m.stride[0], m.dilation[0], m.padding[0]))

    def walk(m):
        if isinstance(m, ResConv1DBlock):
            c = m.model[1]
            out.append(('res', c.kernel_size[0], 1, c.dilation[0], c.padding[0]))  # the 1x1 conv adds nothing
        elif isinstance(m, nn.ConvTranspose1d):
            conv(m, 'convT')
        elif isinstance(m, nn.Conv1d):
            conv(m, 'conv')
        else:
            for c in m.children():
                walk(c)

    for block in reversed(dec.level_blocks):
        walk(block)
    conv(dec.out, 'conv')
    return out


def receptive_field(vqvae: VQVAE, level: int) -> Tuple[int, int]:
    """(left, right) in tokens: an audio sample of token t depends on tokens [t - left, t + right] only.

    Walks each of the hop output phases back through the layers as an index interval: a stride-1
    conv (kernel k, dilation a, padding p) maps [lo, hi] to [lo - p, hi - p + (k-1) a]; a residual
    block takes the hull with the identity; a transposed conv (kernel k, stride s, padding p) maps
    [lo, hi] to [ceil((lo + p - k + 1) / s), floor((hi + p) / s)].
    """
    layers = _decoder_layers(vqvae.decoders[level])
    hop = vqvae.hop_lengths[level]
    base = 1 << 24
    left = right = 0
    for phase in range(hop):
        lo = hi = base * hop + phase
        for kind, k, s, a, p in reversed(layers):
            if kind == 'conv':
                assert s == 1
                lo, hi = lo - p, hi - p + (k - 1) * a
            elif kind == 'res':
                lo, hi = min(lo, lo - p), max(hi, hi - p + (k - 1) * a)
            else:
                lo, hi = -((k - 1 - lo - p) // s), (hi + p) // s
        left, right = max(left, base - lo), max(right, hi - base)
    return left, right


def margin_tokens(vqvae: VQVAE, level: int) -> int:
    return max(receptive_field(vqvae, level))


@torch.no_grad()
def measured_receptive_field(vqvae: VQVAE, level: int, trials: int = 3, seed: int = 0) -> Tuple[int, int]:
    """Perturbs one token in the middle of random sequences and measures the farthest output token that
    changes on each side (should equal the analytic receptive field on random weights)."""
    left, right = receptive_field(vqvae, level)
    hop = vqvae.hop_lengths[level]
    n = left + right + 9
    c = right + 4
    g = torch.Generator().manual_seed(seed)
    seen_l = seen_r = 0
    for _ in range(trials):
        z = torch.randint(0, vqvae.l_bins, (1, n), generator=g)
        z2 = z.clone()
        z2[0, c] = (z[0, c] + 1 + torch.randint(0, vqvae.l_bins - 1, (1,), generator=g)) % vqvae.l_bins
        a, b = vqvae.decode_level(z, level), vqvae.decode_level(z2, level)
        changed = ((a - b).abs() > 0)[0].nonzero()[:, 0]
        toks = changed // hop
        # output token t changed by input token c: c in [t - left, t + right] -> t in [c - right, c + left]
        seen_r = max(seen_r, int(c - toks.min()))  # outputs before c see c as a right-side token
        seen_l = max(seen_l, int(toks.max() - c))
    return seen_l, seen_r


# ----------------------------------------------------------------------------------------------
# ONNX export


class DecoderGraph(nn.Module):
    def __init__(self, vqvae: VQVAE, level: int):
        super().__init__()
        self.vqvae, self.level = vqvae, level

    def forward(self, tokens):
        return self.vqvae.decode_level(tokens, self.level)


class EncoderGraph(nn.Module):
    def __init__(self, vqvae: VQVAE, level: int):
        super().__init__()
        self.vqvae, self.level = vqvae, level

    def forward(self, audio):
        return self.vqvae.encode_level(audio, self.level)


def _onnx_bytes(module: nn.Module, example: torch.Tensor, in_name: str, out_name: str, opset: int) -> bytes:
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, (example,), buf, input_names=[in_name], output_names=[out_name],
                          dynamic_axes={in_name: {0: 'B', 1: 'T'}, out_name: {0: 'B', 1: 'T_out'}},
                          opset_version=opset, do_constant_folding=True)
    return buf.getvalue()


def _write(out_dir: str, name: str, data: bytes) -> str:
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, name), 'wb') as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def export_vqvae_decoders(vqvae: VQVAE, out_dir: str, opset: int = 17,
                          levels: Optional[Sequence[int]] = None, verify_margin: bool = True) -> List[dict]:
    """Writes `vqvae.decoder{L}.onnx` (tokens int64 [B, T] -> audio float32 [B, T * hop]) for each level;
    returns the manifest's `vqvae.decoders` entries {level, file, sha256, marginTokens}.

    marginTokens is the analytic receptive field (max of both sides); with verify_margin the
    perturbation measurement must reproduce it exactly (a bigger measured field is an error)."""
    vqvae = vqvae.eval()
    entries = []
    for level in (range(vqvae.levels) if levels is None else levels):
        margin = margin_tokens(vqvae, level)
        if verify_margin:
            measured = measured_receptive_field(vqvae, level, trials=1)
            if max(measured) > margin:
                raise AssertionError(f'level {level}: measured receptive field {measured} > analytic {margin}')
        example = torch.randint(0, vqvae.l_bins, (1, 16))
        name = f'vqvae.decoder{level}.onnx'
        digest = _write(out_dir, name, _onnx_bytes(DecoderGraph(vqvae, level), example, 'tokens', 'audio', opset))
        entries.append({'level': level, 'file': name, 'sha256': digest, 'marginTokens': int(margin)})
    return entries


def export_vqvae_encoders(vqvae: VQVAE, out_dir: str, opset: int = 17,
                          levels: Optional[Sequence[int]] = None) -> List[dict]:
    """Writes `vqvae.encoder{L}.onnx` (audio float32 [B, T], T a multiple of hopLength -> tokens int64
    [B, T / hopLength]); returns {level, file, sha256, hopLength} entries."""
    vqvae = vqvae.eval()
    entries = []
    for level in (range(vqvae.levels) if levels is None else levels):
        hop = vqvae.hop_lengths[level]
        example = torch.rand(1, 4 * hop) * 2 - 1
        name = f'vqvae.encoder{level}.onnx'
        digest = _write(out_dir, name, _onnx_bytes(EncoderGraph(vqvae, level), example, 'audio', 'tokens', opset))
        entries.append({'level': level, 'file': name, 'sha256': digest, 'hopLength': hop})
    return entries
