"""Transformer of jukebox/transformer: ResAttnBlock(ln_0, attn, ln_1, mlp) stacked in `_attn_mods`.

Attention functions (attn_func): 0 dense causal self-attention, 6 encoder-decoder cross-attention
over `encoder_kv`. Sparse kinds (1 row, 2 column, 3 previous row) are not implemented yet.

Every block takes an optional KV cache (past_key, past_value) of shape [B, H, P, Dh] and returns the
cache grown by the T new positions. A cross-attention block has nothing to cache; it carries its
cache slot through with zeros for the new positions so that every layer has the same cache layout.
"""
import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from .ops import Conv1D, LayerNorm, quick_gelu

KV = Tuple[torch.Tensor, torch.Tensor]

DENSE_ATTN = 0
CROSS_ATTN = 6
SUPPORTED_ATTN_FUNCS = (DENSE_ATTN, CROSS_ATTN)


class FactoredAttention(nn.Module):
    def __init__(self, n_in: int, n_ctx: int, n_state: int, n_head: int, attn_func: int = DENSE_ATTN,
                 encoder_dims: Optional[int] = None):
        super().__init__()
        if attn_func not in SUPPORTED_ATTN_FUNCS:
            raise NotImplementedError(f'attn_func {attn_func} is not implemented')
        assert n_state % n_head == 0
        self.n_in, self.n_ctx, self.n_state, self.n_head = n_in, n_ctx, n_state, n_head
        self.attn_func = attn_func
        self.encoder_dims = encoder_dims
        if attn_func == CROSS_ATTN:
            self.c_attn = Conv1D(n_in, n_state)  # queries only
            self.c_enc_kv = Conv1D(n_in, n_state * 2)  # keys and values from encoder_kv
        else:
            self.c_attn = Conv1D(n_in, n_state * 3)
        self.c_proj = Conv1D(n_state, n_in)
        # Jukebox scales queries and keys by d^-1/4 each.
        self.scale = 1.0 / math.sqrt(math.sqrt(n_state // n_head))

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[0], x.shape[1]
        return x.reshape(b, t, self.n_head, self.n_state // self.n_head).permute(0, 2, 1, 3)  # [B, H, T, Dh]

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[0], x.shape[2]
        return x.permute(0, 2, 1, 3).reshape(b, t, self.n_state)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        w = torch.matmul(q * self.scale, (k * self.scale).transpose(-1, -2))  # [B, H, T, S]
        if mask is not None:
            w = w.masked_fill(~mask, -1e9)
        w = torch.softmax(w, dim=-1)
        return torch.matmul(w, v)

    def forward(self, x: torch.Tensor, past: KV, encoder_kv: Optional[torch.Tensor]) -> Tuple[torch.Tensor, KV]:
        past_k, past_v = past
        if self.attn_func == CROSS_ATTN:
            assert encoder_kv is not None, 'cross-attention needs encoder_kv'
            q = self.split_heads(self.c_attn(x))
            k, v = self.c_enc_kv(encoder_kv).chunk(2, dim=2)
            a = self.attend(q, self.split_heads(k), self.split_heads(v), None)
            zeros = torch.zeros_like(q)
            present = (torch.cat([past_k, zeros], dim=2), torch.cat([past_v, zeros], dim=2))
        else:
            q, k, v = self.c_attn(x).chunk(3, dim=2)
            q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
            k_all = torch.cat([past_k, k], dim=2)
            v_all = torch.cat([past_v, v], dim=2)
            p, t = past_k.shape[2], q.shape[2]
            # Query i (absolute index p + i) sees keys 0 .. p + i.
            key_pos = torch.arange(p + t).unsqueeze(0)
            query_pos = (torch.arange(t) + p).unsqueeze(1)
            mask = key_pos <= query_pos  # [T, P + T]
            a = self.attend(q, k_all, v_all, mask)
            present = (k_all, v_all)
        return self.c_proj(self.merge_heads(a)), present


class MLP(nn.Module):
    def __init__(self, n_in: int, n_state: int):
        super().__init__()
        self.c_fc = Conv1D(n_in, n_state)
        self.c_proj = Conv1D(n_state, n_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(quick_gelu(self.c_fc(x)))


class ResAttnBlock(nn.Module):
    def __init__(self, n_in: int, n_ctx: int, n_head: int, m_attn: float = 0.25, m_mlp: float = 1.0,
                 attn_func: int = DENSE_ATTN, encoder_dims: Optional[int] = None):
        super().__init__()
        self.attn = FactoredAttention(n_in, n_ctx, int(m_attn * n_in), n_head, attn_func, encoder_dims)
        self.ln_0 = LayerNorm(n_in)
        self.mlp = MLP(n_in, int(m_mlp * n_in))
        self.ln_1 = LayerNorm(n_in)

    def forward(self, x: torch.Tensor, past: KV, encoder_kv: Optional[torch.Tensor]) -> Tuple[torch.Tensor, KV]:
        a, present = self.attn(self.ln_0(x), past, encoder_kv)
        m = self.mlp(self.ln_1(x + a))
        return x + a + m, present


class Transformer(nn.Module):
    def __init__(self, n_in: int, n_ctx: int, n_head: int, n_depth: int, attn_funcs: List[int],
                 m_attn: float = 0.25, m_mlp: float = 1.0, encoder_dims: Optional[int] = None):
        super().__init__()
        assert len(attn_funcs) == n_depth
        self.n_in, self.n_ctx, self.n_head, self.n_depth = n_in, n_ctx, n_head, n_depth
        self.attn_funcs = list(attn_funcs)
        self._attn_mods = nn.ModuleList(
            ResAttnBlock(n_in, n_ctx, n_head, m_attn, m_mlp, f, encoder_dims) for f in attn_funcs)
        block = self._attn_mods[0].attn
        self.head_dim = block.n_state // n_head

    def empty_cache(self, batch: int) -> List[KV]:
        z = torch.zeros(batch, self.n_head, 0, self.head_dim)
        return [(z, z) for _ in range(self.n_depth)]

    def forward(self, x: torch.Tensor, past: Optional[List[KV]] = None,
                encoder_kv: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, List[KV]]:
        if past is None:
            past = self.empty_cache(x.shape[0])
        presents: List[KV] = []
        for block, layer_past in zip(self._attn_mods, past):
            x, present = block(x, layer_past, encoder_kv)
            presents.append(present)
        return x, presents
