"""Conditioners of jukebox/prior/conditioners.py: LabelConditioner (artist, genres, timing) and the
upsamplers' Conditioner (upper-level tokens -> per-position x_cond)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn

from .ops import LayerNorm
from .vqvae import DecoderConvBock


class SimpleEmbedding(nn.Module):
    def __init__(self, bins: int, out_width: int):
        super().__init__()
        self.bins = bins
        self.emb = nn.Embedding(bins, out_width)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.emb(y)


class RangeEmbedding(nn.Module):
    """Embeds positions in [pos_min, pos_max) binned into `bins`; with n_time > 1 the range
    [pos_start, pos_end) is interpolated linearly over n_time positions first.

    Jukebox asserts that values lie in range; an ONNX graph cannot, so the bin index is clamped to
    [0, bins - 1] instead (identical wherever the official code does not raise).
    """

    def __init__(self, n_time: int, bins: int, range_: Tuple[float, float], out_width: int, clamp: bool = False):
        super().__init__()
        self.n_time = n_time
        self.bins = bins
        self.emb = nn.Embedding(bins, out_width)
        self.pos_min, self.pos_max = float(range_[0]), float(range_[1])
        self.clamp = clamp

    def forward(self, pos_start: torch.Tensor, pos_end: Optional[torch.Tensor] = None) -> torch.Tensor:
        pos_start = pos_start.float()  # [N, 1]
        if pos_end is not None:
            if self.clamp:
                pos_end = pos_end.clamp(self.pos_min, self.pos_max)
            pos_end = pos_end.float()
        if self.n_time != 1:
            assert pos_end is not None
            interpolation = torch.arange(0, self.n_time, dtype=torch.float).view(1, self.n_time) / self.n_time
            position = pos_start + (pos_end - pos_start) * interpolation
        else:
            position = pos_start
        normalised = (position - self.pos_min) / (self.pos_max - self.pos_min)
        bins = torch.floor(self.bins * normalised).long().clamp(0, self.bins - 1)
        return self.emb(bins)  # [N, n_time, out_width]


class LabelConditioner(nn.Module):
    def __init__(self, y_bins: Tuple[int, int], out_width: int, n_time: int, include_time_signal: bool,
                 t_bins: int, sr: int, min_duration: float, max_duration: float, max_bow_genre_size: int):
        super().__init__()
        self.n_time = n_time
        self.out_width = out_width
        bow_genre_bins, artist_bins = y_bins
        self.max_bow_genre_size = max_bow_genre_size
        self.bow_genre_emb = SimpleEmbedding(bow_genre_bins, out_width)
        self.artist_emb = SimpleEmbedding(artist_bins, out_width)
        self.include_time_signal = include_time_signal
        if include_time_signal:
            assert min_duration is not None and max_duration is not None, 'the timing signal needs min/max_duration'
            total_length_range = (min_duration * sr, max_duration * sr)
            absolute_pos_range = (0.0, max_duration * sr)
            relative_pos_range = (0.0, 1.0)
            self.total_length_emb = RangeEmbedding(1, t_bins, total_length_range, out_width)
            self.absolute_pos_emb = RangeEmbedding(n_time, t_bins, absolute_pos_range, out_width)
            self.relative_pos_emb = RangeEmbedding(n_time, t_bins, relative_pos_range, out_width, clamp=True)

    def forward(self, y: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """y: int64 [N, 4 + max_bow_genre_size] -> start embedding [N, 1, W], timing [N, n_time, W] or None."""
        total_length, offset, length = y[:, 0:1], y[:, 1:2], y[:, 2:3]
        artist, genre = y[:, 3:4], y[:, 4:4 + self.max_bow_genre_size]
        artist_emb = self.artist_emb(artist)
        mask = (genre >= 0).float().unsqueeze(2)  # empty genre slots are -1
        genre_emb = (self.bow_genre_emb(torch.where(genre >= 0, genre, torch.zeros_like(genre))) * mask).sum(
            dim=1, keepdim=True)
        start_emb = genre_emb + artist_emb
        if not self.include_time_signal:
            return start_emb, None
        start = offset.float()
        end = (offset + length).float()
        total = total_length.float()
        pos_emb = (self.total_length_emb(total) + self.absolute_pos_emb(start, end)
                   + self.relative_pos_emb(start / total, end / total))
        return start_emb, pos_emb


class Conditioner(nn.Module):
    """Upper-level tokens -> x_emb -> DecoderConvBock (upsample by stride_t ** down_t) -> LayerNorm."""

    def __init__(self, input_shape: int, bins: int, down_t: int, stride_t: int, out_width: int, width: int,
                 depth: int, m_conv: float, dilation_growth_rate: int = 1, dilation_cycle: Optional[int] = None,
                 res_scale: bool = False, checkpoint_res: bool = False):
        super().__init__()
        self.x_shape = input_shape
        self.width = out_width
        self.x_emb = nn.Embedding(bins, out_width)
        # checkpoint_res (the official cond_c_res=1 of the upsamplers) only renames Resnet1D's blocks.
        self.cond = DecoderConvBock(out_width, down_t, stride_t, width, depth, m_conv, dilation_growth_rate,
                                    dilation_cycle, reverse=False, res_scale=res_scale, checkpoint_res=checkpoint_res)
        self.ln = LayerNorm(out_width)

    def forward(self, x: torch.Tensor, x_cond: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = self.x_emb(x)  # [N, T_upper, W]
        if x_cond is not None:
            x = x + x_cond
        x = self.cond(x.permute(0, 2, 1)).permute(0, 2, 1)  # [N, T_upper * up, W]
        return self.ln(x)
