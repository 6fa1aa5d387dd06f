"""Priors of jukebox/prior: ConditionalAutoregressive2D (x_emb, pos_emb, transformer, x_out) and
SimplePrior, which holds a level's conditioners (y_emb, conditioner_blocks, the lyric encoder
prime_prior + prime_state_proj + prime_state_ln) around its `prior`."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from .conditioners import Conditioner, LabelConditioner
from .ops import Conv1D, LayerNorm
from .transformer import KV, Transformer


class PositionEmbedding(nn.Module):
    def __init__(self, input_shape: int, width: int):
        super().__init__()
        self.input_shape = input_shape
        self.pos_emb = nn.Parameter(torch.zeros(input_shape, width))

    def forward(self) -> torch.Tensor:
        return self.pos_emb


class ConditionalAutoregressive2D(nn.Module):
    def __init__(self, input_shape: int, bins: int, width: int, depth: int, heads: int, attn_funcs: List[int],
                 m_attn: float = 0.25, m_mlp: float = 1.0, y_cond: bool = False, encoder_dims: Optional[int] = None,
                 only_encode: bool = False, merged_decoder: bool = False):
        super().__init__()
        self.input_shape = input_shape
        self.bins = bins
        self.width = width
        self.depth = depth
        self.x_emb = nn.Embedding(bins, width)
        self.y_cond = y_cond
        if not y_cond:
            self.start_token = nn.Parameter(torch.zeros(1, width))
        self.pos_emb = PositionEmbedding(input_shape, width)
        self.transformer = Transformer(width, input_shape, heads, depth, attn_funcs, m_attn, m_mlp, encoder_dims)
        self.only_encode = only_encode
        # Merged-decoder models (5b top priors) neither add x_cond after the transformer nor tie x_out.
        self.add_cond_after_transformer = not merged_decoder
        self.share_x_emb_x_out = not merged_decoder
        if not only_encode:
            self.x_out = nn.Linear(width, bins, bias=False)
            if self.share_x_emb_x_out:
                self.x_out.weight = self.x_emb.weight

    def _start(self, batch: int, y_cond: Optional[torch.Tensor]) -> torch.Tensor:
        if self.y_cond:
            assert y_cond is not None
            return y_cond.reshape(batch, 1, self.width)
        return self.start_token.reshape(1, 1, self.width).expand(batch, 1, self.width)

    def forward(self, x: torch.Tensor, x_cond: Optional[torch.Tensor] = None, y_cond: Optional[torch.Tensor] = None,
                encoder_kv: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Whole-sequence forward (no cache): x int64 [N, T] are the tokens themselves; position t
        is predicted from tokens < t. Returns logits [N, T, bins] (the activations if only_encode)."""
        n, t = x.shape
        h = self.x_emb(x)
        h = torch.cat([self._start(n, y_cond), h[:, :-1]], dim=1)  # shift right, start token first
        if x_cond is None:
            x_cond = torch.zeros(n, 1, self.width)
        else:
            x_cond = x_cond[:, :t]
        h = h + self.pos_emb()[:t] + x_cond
        h, _ = self.transformer(h, None, encoder_kv)
        if self.add_cond_after_transformer:
            h = h + x_cond
        if self.only_encode:
            return h
        return self.x_out(h)

    def step(self, tokens: torch.Tensor, position: torch.Tensor, x_cond: torch.Tensor, y_cond: Optional[torch.Tensor],
             encoder_kv: Optional[torch.Tensor], past: List[KV]) -> Tuple[torch.Tensor, List[KV]]:
        """T positions from window position `position` (int64 [1]) with a KV cache.

        tokens int64 [N, T]: the token before each position (ignored at position 0, where the start
        token is used); x_cond [N, T, W]. Returns logits [N, bins] of the last position and the cache.
        """
        n, t = tokens.shape[0], tokens.shape[1]
        pos = torch.arange(t) + position  # [T]
        h = self.x_emb(tokens.clamp(0, self.bins - 1))
        is_start = (pos == 0).reshape(1, t, 1)
        h = torch.where(is_start, self._start(n, y_cond), h)
        h = h + self.pos_emb()[pos] + x_cond
        h, presents = self.transformer(h, past, encoder_kv)
        last = h[:, -1]
        if self.add_cond_after_transformer:
            last = last + x_cond[:, -1]
        return self.x_out(last), presents


class SimplePrior(nn.Module):
    """One level's prior with its conditioning, configured from the level's hps."""

    def __init__(self, hps: dict, vqvae_hps: dict, labels_hps: dict, n_lyric_bins: int, sr: int, top_level: int):
        super().__init__()
        self.level = hps['level']
        self.n_ctx = hps['n_ctx']
        self.width = hps['prior_width']
        self.heads = hps['heads']
        self.depth = hps['prior_depth']
        self.bins = vqvae_hps['l_bins']
        self.max_bow_genre_size = labels_hps['max_bow_genre_size']
        self.n_tokens = hps.get('n_tokens', 0) if hps.get('use_tokens', False) else 0
        self.x_cond = self.level != top_level  # upsamplers condition on the upper level's tokens
        self.cond_downsample = 1
        if self.x_cond:
            up_level = self.level + 1
            down_t, stride_t = vqvae_hps['downs_t'][up_level], vqvae_hps['strides_t'][up_level]
            self.cond_downsample = stride_t ** down_t
            self.conditioner_blocks = nn.ModuleList([Conditioner(
                self.n_ctx // self.cond_downsample, vqvae_hps['l_bins'], down_t, stride_t, self.width,
                hps['cond_width'], hps['cond_depth'], hps['cond_m_conv'], hps['cond_dilation_growth_rate'],
                hps['cond_dilation_cycle'], hps['cond_res_scale'])])
        self.y_bins = (len(labels_hps['genres']), len(labels_hps['artists']))
        self.y_emb = LabelConditioner(self.y_bins, self.width, self.n_ctx, not self.x_cond, hps['t_bins'], sr,
                                      labels_hps['min_duration'], labels_hps['max_duration'],
                                      self.max_bow_genre_size)
        if self.n_tokens > 0:
            self.prime_prior = ConditionalAutoregressive2D(
                self.n_tokens, n_lyric_bins, hps['prime_width'], hps['prime_depth'], hps['prime_heads'],
                hps['prime_attn_funcs'], hps['prime_m_attn'], hps['prime_m_mlp'], y_cond=False, only_encode=True)
            self.prime_state_proj = Conv1D(hps['prime_width'], self.width)
            self.prime_state_ln = LayerNorm(self.width)
        self.prior = ConditionalAutoregressive2D(
            self.n_ctx, self.bins, self.width, self.depth, self.heads, hps['attn_funcs'], hps['m_attn'],
            hps['m_mlp'], y_cond=True, encoder_dims=self.n_tokens or None, merged_decoder=hps['merged_decoder'])

    @property
    def label_length(self) -> int:
        return 4 + self.max_bow_genre_size + self.n_tokens

    @property
    def head_dim(self) -> int:
        return self.prior.transformer.head_dim

    def get_encoder_kv(self, prime: torch.Tensor) -> torch.Tensor:
        acts = self.prime_prior(prime)
        return self.prime_state_ln(self.prime_state_proj(acts))

    def get_cond(self, labels: torch.Tensor, upper_tokens: Optional[torch.Tensor]
                 ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """labels int64 [N, label_length] (+ upper tokens [N, n_ctx / r]) -> y_cond [N, W], x_cond [N, n_ctx, W],
        encoder_kv [N, n_tokens, W] or None."""
        n_labels = 4 + self.max_bow_genre_size
        y = labels[:, :n_labels]
        y_cond, y_pos = self.y_emb(y)
        if self.x_cond:
            assert upper_tokens is not None
            x_cond = self.conditioner_blocks[0](upper_tokens)
        elif y_pos is not None:
            x_cond = y_pos
        else:
            x_cond = torch.zeros(labels.shape[0], self.n_ctx, self.width)
        encoder_kv = None
        if self.n_tokens > 0:
            encoder_kv = self.get_encoder_kv(labels[:, n_labels:n_labels + self.n_tokens])
        return y_cond.reshape(labels.shape[0], self.width), x_cond, encoder_kv
