"""Priors of jukebox/prior: ConditionalAutoregressive2D (x_emb, pos_emb, transformer, x_out) and
SimplePrior, which holds a level's conditioners (y_emb, conditioner_blocks, the lyric encoder
prime_prior + prime_state_proj + prime_state_ln + prime_x_out) around its `prior`.

SimplePrior is built from official hyperparameter names (see hparams.py) and its parameter names
are those of the official state dicts, so `checkpoints.load_prior` loads a released checkpoint.
Lyric conditioning comes in the two official forms:
- separate encoder-decoder (5b_lyrics: use_tokens, not single_enc_dec): `prime_prior` encodes the
  n_tokens lyric characters, cross-attention layers (attn_func 6) read the result;
- single encoder-decoder (1b_lyrics: single_enc_dec): the lyric characters are a prefix of the
  sequence, music ids are shifted by n_vocab in a merged vocabulary, prime attention (attn_func 7).
"""
from typing import Dict, List, Optional, Tuple

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
    def __init__(self, input_shape: int, bins: int, width: int, depth: int, heads: int, attn_order: int = 0,
                 blocks: Optional[int] = None, m_attn: float = 0.25, m_mlp: float = 1.0, y_cond: bool = False,
                 encoder_dims: Optional[int] = None, only_encode: bool = False, merged_decoder: bool = False,
                 prime_len: Optional[int] = None, res_scale: bool = False):
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
        self.transformer = Transformer(width, input_shape, heads, depth, attn_order, blocks, m_attn, m_mlp,
                                       encoder_dims or None, prime_len, res_scale)
        self.only_encode = only_encode
        self.prime_len = prime_len
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
        """Whole-window forward (no cache) as the official `forward`: x int64 [N, T] are the tokens
        themselves; position t is predicted from tokens < t. T < input_shape is padded to the whole
        window (every kind is causal) and cropped. Returns logits [N, T, bins] (activations if only_encode)."""
        n, t = x.shape
        full = self.input_shape
        if t < full:
            x = torch.cat([x, torch.zeros(n, full - t, dtype=x.dtype)], dim=1)
        h = self.x_emb(x)
        h = torch.cat([self._start(n, y_cond), h[:, :-1]], dim=1)  # shift right, start token first
        if x_cond is None:
            x_cond = torch.zeros(n, 1, self.width)
        elif x_cond.shape[1] != 1:
            assert x_cond.shape[1] >= t
            x_cond = torch.cat([x_cond, torch.zeros(n, max(0, full - x_cond.shape[1]), self.width)], dim=1)[:, :full]
        h = h + self.pos_emb() + x_cond
        h = self.transformer(h, encoder_kv)
        if self.add_cond_after_transformer:
            h = h + x_cond
        h = h[:, :t]
        if self.only_encode:
            return h
        return self.x_out(h)

    def step(self, tokens: torch.Tensor, position: torch.Tensor, x_cond: torch.Tensor, y_cond: Optional[torch.Tensor],
             enc: Optional[Dict[int, KV]], past: List[KV]) -> Tuple[torch.Tensor, List[KV]]:
        """T positions from window position `position` (int64 [1]) with a KV cache.

        tokens int64 [N, T]: the token before each position (ignored at position 0, where the start
        token is used); x_cond [N, T, W]; enc: projected cross-attention keys/values per layer.
        Returns logits [N, bins] of the last position and the cache.
        """
        n, t = tokens.shape[0], tokens.shape[1]
        pos = torch.arange(t) + position  # [T]
        h = self.x_emb(tokens.clamp(0, self.bins - 1))
        is_start = (pos == 0).reshape(1, t, 1)
        h = torch.where(is_start, self._start(n, y_cond), h)
        h = h + self.pos_emb()[pos] + x_cond
        h, presents = self.transformer.step(h, position, past, enc)
        last = h[:, -1]
        if self.add_cond_after_transformer:
            last = last + x_cond[:, -1]
        return self.x_out(last), presents


class SimplePrior(nn.Module):
    """One level's prior with its conditioning, built from the level's official hps.

    vq: the VQ-VAE hps (levels, downs_t, strides_t, l_bins)."""

    def __init__(self, hps: dict, vq: dict):
        super().__init__()
        self.hps = hps
        self.level = hps['level']
        self.levels = vq['levels']
        self.n_ctx = hps['n_ctx']  # music tokens per window
        self.width = hps['prior_width']
        self.heads = hps['heads']
        self.depth = hps['prior_depth']
        self.bins = vq['l_bins']
        self.single_enc_dec = bool(hps['single_enc_dec'])
        self.use_tokens = bool(hps['use_tokens'])
        self.n_tokens = hps['n_tokens'] if self.use_tokens else 0
        self.n_vocab = hps['n_vocab']
        self.max_bow_genre_size = hps['max_bow_genre_size']
        self.fp16_params = bool(hps.get('fp16_params', False))
        self.x_cond = self.level != self.levels - 1  # upsamplers condition on the upper level's tokens
        self.cond_downsample = 1
        if self.x_cond:
            up = self.level + 1
            down_t, stride_t = vq['downs_t'][up], vq['strides_t'][up]
            self.cond_downsample = stride_t ** down_t
            self.conditioner_blocks = nn.ModuleList([Conditioner(
                self.n_ctx // self.cond_downsample, self.bins, down_t, stride_t, self.width,
                hps['cond_width'], hps['cond_depth'], hps['cond_m_conv'], hps['cond_dilation_growth_rate'],
                hps['cond_dilation_cycle'], hps['cond_res_scale'], checkpoint_res=bool(hps['cond_c_res']))])
        assert hps['labels'], 'only labelled priors are supported'
        self.y_bins = tuple(hps['y_bins'])  # (genres, artists)
        self.y_emb = LabelConditioner(self.y_bins, self.width, self.n_ctx, not self.x_cond, hps['t_bins'], hps['sr'],
                                      hps['min_duration'], hps['max_duration'], self.max_bow_genre_size)
        if self.single_enc_dec:
            assert self.use_tokens and self.n_tokens > 0
            self.prior = ConditionalAutoregressive2D(
                self.n_tokens + self.n_ctx, self.n_vocab + self.bins, self.width, self.depth, self.heads,
                hps['attn_order'], hps['blocks'], hps['m_attn'], hps['m_mlp'], y_cond=True,
                prime_len=self.n_tokens, res_scale=hps['res_scale'])
        else:
            if self.n_tokens > 0:
                self.prime_prior = ConditionalAutoregressive2D(
                    self.n_tokens, self.n_vocab, hps['prime_width'], hps['prime_depth'], hps['prime_heads'],
                    hps['prime_attn_order'], hps['prime_blocks'], hps['prime_m_attn'], hps['prime_m_mlp'],
                    y_cond=False, only_encode=True)
                self.prime_state_proj = Conv1D(hps['prime_width'], self.width)
                self.prime_state_ln = LayerNorm(self.width)
                self.prime_x_out = nn.Linear(self.width, self.n_vocab, bias=False)  # training loss only
            self.prior = ConditionalAutoregressive2D(
                self.n_ctx, self.bins, self.width, self.depth, self.heads, hps['attn_order'], hps['blocks'],
                hps['m_attn'], hps['m_mlp'], y_cond=True, encoder_dims=self.n_tokens or None,
                merged_decoder=hps['merged_decoder'], res_scale=hps['res_scale'])

    # -- contract facts ---------------------------------------------------------------------------

    @property
    def lyrics_kind(self) -> str:
        if self.n_tokens == 0:
            return 'none'
        return 'prefix' if self.single_enc_dec else 'encoder'

    @property
    def vocab_offset(self) -> int:
        return self.n_vocab if self.single_enc_dec else 0

    @property
    def seq_len(self) -> int:
        """Positions of a window's sequence (prefix lyrics count)."""
        return self.n_ctx + (self.n_tokens if self.single_enc_dec else 0)

    @property
    def out_bins(self) -> int:
        return self.prior.bins

    @property
    def label_length(self) -> int:
        return 4 + self.max_bow_genre_size + self.n_tokens

    @property
    def head_dim(self) -> int:
        return self.prior.transformer.head_dim

    @property
    def cross_layers(self) -> List[int]:
        return self.prior.transformer.cross_layers

    # -- conditioning -----------------------------------------------------------------------------

    def get_encoder_kv(self, prime: torch.Tensor) -> torch.Tensor:
        acts = self.prime_prior(prime)
        return self.prime_state_ln(self.prime_state_proj(acts))

    def get_cond(self, labels: torch.Tensor, upper_tokens: Optional[torch.Tensor]
                 ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """labels int64 [N, label_length] (+ upper tokens [N, n_ctx / r]) -> y_cond [N, W],
        x_cond [N, seq_len, W], encoder_kv [N, n_tokens, W] or None."""
        n = labels.shape[0]
        n_labels = 4 + self.max_bow_genre_size
        y_cond, y_pos = self.y_emb(labels[:, :n_labels])
        if self.x_cond:
            assert upper_tokens is not None
            x_cond = self.conditioner_blocks[0](upper_tokens)
        elif y_pos is not None:
            x_cond = y_pos
        else:
            x_cond = torch.zeros(n, self.n_ctx, self.width)
        encoder_kv = None
        if self.n_tokens > 0 and self.single_enc_dec:
            x_cond = torch.cat([torch.zeros(n, self.n_tokens, self.width), x_cond], dim=1)
        elif self.n_tokens > 0:
            encoder_kv = self.get_encoder_kv(labels[:, n_labels:n_labels + self.n_tokens])
        return y_cond.reshape(n, self.width), x_cond, encoder_kv

    def sequence(self, labels: torch.Tensor, music: torch.Tensor) -> torch.Tensor:
        """The prior's input sequence of a window: lyric prefix ++ (music + n_vocab) for single_enc_dec."""
        if not self.single_enc_dec:
            return music
        n_labels = 4 + self.max_bow_genre_size
        return torch.cat([labels[:, n_labels:n_labels + self.n_tokens], music + self.n_vocab], dim=1)

    def full_logits(self, labels: torch.Tensor, upper_tokens: Optional[torch.Tensor], seq: torch.Tensor) -> torch.Tensor:
        """The official whole-window forward (z_forward) over the sequence `seq` [N, T] (T <= seq_len)."""
        y_cond, x_cond, encoder_kv = self.get_cond(labels, upper_tokens)
        return self.prior(seq, x_cond, y_cond, encoder_kv)
