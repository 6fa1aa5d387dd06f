"""Transformer of jukebox/transformer: ResAttnBlock(ln_0, attn, ln_1, mlp) stacked in `_attn_mods`.

Attention kinds (attn_func), with a sequence of n_ctx positions seen as `blocks` rows of
block_ctx = n_ctx // blocks positions:
  0 dense            every earlier position (and itself)
  1 row              earlier positions of the same row (block)
  2 column           the same in-row offset in this and every earlier row
  3 previous row     the whole previous row (nothing for row 0: the output is zero)
  6 cross            every position of the lyric encoder's output (encoder_kv), no mask
  7 prime            earlier positions among the first (prime_len // blocks + 1) * blocks

Two independent code paths:
- `forward` (the official training/`z_forward` path): the whole window at once, sparse kinds by
  reshaping into rows / columns as the official FactoredAttention does;
- `step`: T positions from `position` = P with a KV cache per layer that holds only what its kind
  still reads (`Transformer.cache_range`), as the official sample mode keeps it: dense and column
  all of [0, P), row the current block, previous row the previous and current blocks, prime the
  first min(P, prime_keys) positions, cross nothing (it reads keys/values projected once per window,
  `project_encoder_kv`). Each key gets its absolute position and a position mask selects exactly
  the keys the whole-window forward sees; the present cache is trimmed for the next query.
"""
import math
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from .ops import Conv1D, LayerNorm, quick_gelu

KV = Tuple[torch.Tensor, torch.Tensor]
# Per attention kind in a step: (mask [T, Lc + T] or None, output gate [T, 1] or None, indices of the
# keys the next query still needs, or None to keep them all).
StepLayout = Tuple[Optional[torch.Tensor], Optional[torch.Tensor], Optional[torch.Tensor]]

DENSE, ROW, COLUMN, PREV_ROW, CROSS, PRIME = 0, 1, 2, 3, 6, 7
SUPPORTED_ATTN_FUNCS = (DENSE, ROW, COLUMN, PREV_ROW, CROSS, PRIME)
KIND_NAMES = {DENSE: 'dense', ROW: 'row', COLUMN: 'column', PREV_ROW: 'previous-row', CROSS: 'cross', PRIME: 'prime'}


def attn_func_for(attn_order: int, d: int) -> int:
    """The attention kind of layer d for an official attn_order (the ones the released models use,
    plus the simple cycles they are built from)."""
    if attn_order == 0:
        return DENSE
    if attn_order == 1:
        return (ROW, COLUMN)[d % 2]
    if attn_order == 2:
        return (ROW, COLUMN, PREV_ROW)[d % 3]
    if attn_order == 6:
        return (ROW, COLUMN, PREV_ROW, CROSS)[d % 4]
    if attn_order == 7:
        return CROSS if d % 16 == 15 else (ROW, COLUMN, PREV_ROW)[d % 16 % 3]
    if attn_order == 8:
        return CROSS if d % 10 == 9 else (ROW, COLUMN, PREV_ROW)[d % 10 % 3]
    if attn_order == 9:
        return (ROW, COLUMN, PREV_ROW, DENSE)[d % 4]
    if attn_order == 10:
        # 9 layers of row/column/previous-row, then 7 groups of 9 such layers plus cross-attention (cycle 79).
        e = d % 79
        if e < 9:
            return (ROW, COLUMN, PREV_ROW)[e % 3]
        e = (e - 9) % 10
        return CROSS if e == 9 else (ROW, COLUMN, PREV_ROW)[e % 3]
    if attn_order == 11:
        return (CROSS, CROSS, DENSE)[d % 3] if d % 16 == 15 else (ROW, COLUMN, PREV_ROW)[d % 3]
    if attn_order == 12:
        return (PRIME, PRIME, DENSE)[d % 3] if d % 16 == 15 else (ROW, COLUMN, PREV_ROW)[d % 3]
    raise NotImplementedError(f'attn_order {attn_order}')


def attn_pattern(attn_order: int, depth: int) -> List[int]:
    return [attn_func_for(attn_order, d) for d in range(depth)]


class FactoredAttention(nn.Module):
    def __init__(self, n_in: int, n_ctx: int, n_state: int, n_head: int, attn_func: int = DENSE,
                 blocks: Optional[int] = None, encoder_dims: Optional[int] = None, prime_len: Optional[int] = None):
        super().__init__()
        if attn_func not in SUPPORTED_ATTN_FUNCS:
            raise NotImplementedError(f'attn_func {attn_func} is not implemented')
        assert n_state % n_head == 0
        self.n_in, self.n_ctx, self.n_state, self.n_head = n_in, n_ctx, n_state, n_head
        self.head_dim = n_state // n_head
        self.attn_func = attn_func
        self.blocks = blocks
        self.block_ctx = n_ctx // blocks if blocks else None
        if attn_func in (ROW, COLUMN, PREV_ROW):
            assert blocks and n_ctx % blocks == 0, f'attn_func {attn_func} needs blocks dividing n_ctx'
        self.encoder_dims = encoder_dims
        self.prime_len = prime_len
        if attn_func == CROSS:
            self.c_attn = Conv1D(n_in, n_state)  # queries only
            self.c_enc_kv = Conv1D(n_in, n_state * 2)  # keys and values from encoder_kv
        else:
            self.c_attn = Conv1D(n_in, n_state * 3)
        self.c_proj = Conv1D(n_state, n_in)

    @property
    def prime_keys(self) -> int:
        """Keys a prime-attention layer sees: the official `_prime_len`."""
        assert self.prime_len is not None and self.blocks
        return (self.prime_len // self.blocks + 1) * self.blocks

    # -- helpers ---------------------------------------------------------------------------------

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[0], x.shape[1]
        return x.reshape(b, t, self.n_head, self.head_dim).permute(0, 2, 1, 3)  # [B, H, T, Dh]

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[0], x.shape[2]
        return x.permute(0, 2, 1, 3).reshape(b, t, self.n_state)

    def _softmax_attend(self, q, k, v, mask: Optional[torch.Tensor]) -> torch.Tensor:
        """q [.., Tq, Dh], k/v [.., Tk, Dh] in head layout; mask bool broadcasting to [.., Tq, Tk]."""
        w = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        if mask is not None:
            w = w.masked_fill(~mask, -1e9)
        return torch.matmul(torch.softmax(w, dim=-1), v)

    def _dense(self, q, k, v, mask):
        """q/k/v [N, L, n_state] -> [N, Lq, n_state]."""
        return self.merge_heads(self._softmax_attend(self.split_heads(q), self.split_heads(k), self.split_heads(v),
                                                     mask))

    @staticmethod
    def _causal(lq: int, lk: int) -> torch.Tensor:
        return torch.ones(lq, lk, dtype=torch.bool).tril()

    def project_encoder_kv(self, encoder_kv: torch.Tensor) -> KV:
        k, v = self.c_enc_kv(encoder_kv).chunk(2, dim=2)
        return self.split_heads(k), self.split_heads(v)

    # -- whole-window forward (official non-sample path) -----------------------------------------

    def forward(self, x: torch.Tensor, encoder_kv: Optional[torch.Tensor] = None) -> torch.Tensor:
        n, l, _ = x.shape
        if self.attn_func == CROSS:
            assert encoder_kv is not None, 'cross-attention needs encoder_kv'
            q = self.c_attn(x)
            k, v = self.c_enc_kv(encoder_kv).chunk(2, dim=2)
            return self.c_proj(self._dense(q, k, v, None))
        q, k, v = self.c_attn(x).chunk(3, dim=2)
        f, s = self.attn_func, self.n_state
        if f == DENSE:
            a = self._dense(q, k, v, self._causal(l, l))
        elif f == PRIME:
            pl = self.prime_keys
            a = self._dense(q, k[:, :pl], v[:, :pl], self._causal(l, min(pl, l)))
        else:
            bc = self.block_ctx
            assert l % bc == 0, f'the whole-window forward needs a multiple of block_ctx {bc} positions'
            nb = l // bc
            if f == ROW:
                rows = lambda z: z.reshape(n * nb, bc, s)
                a = self._dense(rows(q), rows(k), rows(v), self._causal(bc, bc)).reshape(n, l, s)
            elif f == COLUMN:
                cols = lambda z: z.reshape(n, nb, bc, s).transpose(1, 2).reshape(n * bc, nb, s)
                a = self._dense(cols(q), cols(k), cols(v), self._causal(nb, nb))
                a = a.reshape(n, bc, nb, s).transpose(1, 2).reshape(n, l, s)
            elif f == PREV_ROW:
                def prev(z):
                    z = z.reshape(n, nb, bc, s)
                    z = torch.cat([torch.zeros_like(z[:, :1]), z[:, :-1]], dim=1)  # row r sees row r - 1
                    return z.reshape(n * nb, bc, s)
                a = self._dense(q.reshape(n * nb, bc, s), prev(k), prev(v), None).reshape(n, l, s)
            else:
                raise NotImplementedError(f)
        return self.c_proj(a)

    # -- cached step (official sample path) -------------------------------------------------------

    def step(self, x: torch.Tensor, past: KV, layout: StepLayout, enc: Optional[KV]) -> Tuple[torch.Tensor, KV]:
        past_k, past_v = past
        mask, gate, keep = layout
        if self.attn_func == CROSS:
            assert enc is not None, 'cross-attention needs the projected encoder keys/values'
            q = self.split_heads(self.c_attn(x))
            a = self._softmax_attend(q, enc[0], enc[1], None)
            # Nothing to cache (length 0); slicing the past keeps the input in the traced graph.
            present = (past_k[:, :, :0], past_v[:, :, :0])
        else:
            q, k, v = self.c_attn(x).chunk(3, dim=2)
            q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
            k_all = torch.cat([past_k, k], dim=2)
            v_all = torch.cat([past_v, v], dim=2)
            a = self._softmax_attend(q, k_all, v_all, mask)
            if gate is not None:
                a = a * gate
            if keep is None:
                present = (k_all, v_all)
            else:
                present = (k_all.index_select(2, keep), v_all.index_select(2, keep))
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
                 attn_func: int = DENSE, blocks: Optional[int] = None, encoder_dims: Optional[int] = None,
                 prime_len: Optional[int] = None, res_scale: float = 1.0):
        super().__init__()
        self.attn = FactoredAttention(n_in, n_ctx, int(m_attn * n_in), n_head, attn_func, blocks, encoder_dims,
                                      prime_len)
        self.ln_0 = LayerNorm(n_in)
        self.mlp = MLP(n_in, int(m_mlp * n_in))
        self.ln_1 = LayerNorm(n_in)
        self.res_scale = res_scale
        self.attn_func = attn_func

    def _out(self, x, a):
        m = self.mlp(self.ln_1(x + a))
        if self.res_scale == 1.0:
            return x + a + m
        return x + self.res_scale * (a + m)

    def forward(self, x: torch.Tensor, encoder_kv: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self._out(x, self.attn(self.ln_0(x), encoder_kv if self.attn_func == CROSS else None))

    def step(self, x, past: KV, layout: StepLayout, enc: Optional[KV]) -> Tuple[torch.Tensor, KV]:
        a, present = self.attn.step(self.ln_0(x), past, layout, enc)
        return self._out(x, a), present


class Transformer(nn.Module):
    def __init__(self, n_in: int, n_ctx: int, n_head: int, n_depth: int, attn_order: int = 0,
                 blocks: Optional[int] = None, m_attn: float = 0.25, m_mlp: float = 1.0,
                 encoder_dims: Optional[int] = None, prime_len: Optional[int] = None, res_scale: bool = False):
        super().__init__()
        self.n_in, self.n_ctx, self.n_head, self.n_depth = n_in, n_ctx, n_head, n_depth
        self.blocks = blocks
        self.block_ctx = n_ctx // blocks if blocks else None
        self.attn_funcs = attn_pattern(attn_order, n_depth)
        rs = 1.0 / n_depth if res_scale else 1.0
        self._attn_mods = nn.ModuleList(
            ResAttnBlock(n_in, n_ctx, n_head, m_attn, m_mlp, f, blocks, encoder_dims, prime_len, rs)
            for f in self.attn_funcs)
        self.head_dim = self._attn_mods[0].attn.head_dim

    @property
    def cross_layers(self) -> List[int]:
        return [i for i, f in enumerate(self.attn_funcs) if f == CROSS]

    def empty_cache(self, batch: int) -> List[KV]:
        z = torch.zeros(batch, self.n_head, 0, self.head_dim)
        return [(z, z) for _ in range(self.n_depth)]

    def forward(self, x: torch.Tensor, encoder_kv: Optional[torch.Tensor] = None) -> torch.Tensor:
        for block in self._attn_mods:
            x = block(x, encoder_kv)
        return x

    def project_encoder_kv(self, encoder_kv: torch.Tensor) -> Dict[int, KV]:
        """Cross-attention keys/values [B, H, n_tokens, Dh] of every cross layer, computed once per window."""
        return {i: self._attn_mods[i].attn.project_encoder_kv(encoder_kv) for i in self.cross_layers}

    @property
    def prime_keys(self) -> Optional[int]:
        return self._attn_mods[self.attn_funcs.index(PRIME)].attn.prime_keys if PRIME in self.attn_funcs else None

    def cache_range(self, f: int, p: int) -> Tuple[int, int]:
        """Positions [start, end) that a layer of kind f caches before the query at position p: what
        that query and later ones still read (the official sample mode's cache, kept minimal)."""
        bc = self.block_ctx
        if f in (DENSE, COLUMN):
            return 0, p
        if f == ROW:
            return p // bc * bc, p
        if f == PREV_ROW:
            return max(0, p // bc * bc - bc), p
        if f == PRIME:
            return 0, min(p, self.prime_keys)
        if f == CROSS:
            return 0, 0
        raise NotImplementedError(f)

    def kv_cache_manifest(self) -> dict:
        """The manifest's `kvCache` (docs/model-contract.md, KV cache layout): each layer's kind, from which
        a host computes every layer's cache length at any position."""
        out = {'dtype': 'float32', 'blockCtx': self.block_ctx, 'layers': [KIND_NAMES[f] for f in self.attn_funcs]}
        if self.prime_keys is not None:
            out['primeKeys'] = self.prime_keys
        return out

    def step_layouts(self, position: torch.Tensor, t: int, past_len: Dict[int, int]) -> Dict[int, StepLayout]:
        """Per attention kind: the StepLayout for queries at position .. position + T - 1 over keys
        concat(past, new), where the past holds `past_len[f]` keys laid out by `cache_range`.

        Everything is computed from the `position` tensor and traced shapes (no Python ints from
        tensors), so one exported graph serves every position, chunk size and cache length."""
        p = position[0]
        new = torch.arange(t) + p  # positions of the T new keys (= the queries)
        qp = new.unsqueeze(1)  # [T, 1]
        nxt = p + t  # the next query's position, which the present cache is trimmed for
        bc = self.block_ctx
        out: Dict[int, StepLayout] = {}
        for f in set(self.attn_funcs):
            if f == CROSS:
                out[f] = (None, None, None)
                continue
            lc = past_len[f]
            # Absolute key positions: prime caches a prefix [0, Lc), the other kinds a suffix [P - Lc, P).
            start = 0 if f == PRIME else p - lc
            kp = torch.cat([torch.arange(lc) + start, new]).unsqueeze(0)  # [1, Lc + T]
            causal = kp <= qp
            gate = keep = None
            if f == DENSE:
                mask = causal
            elif f == ROW:
                mask = causal & (torch.div(kp, bc, rounding_mode='floor') == torch.div(qp, bc, rounding_mode='floor'))
                # slots of positions >= the next query's block start
                keep = torch.arange(torch.div(nxt, bc, rounding_mode='floor') * bc - start, lc + t)
            elif f == COLUMN:
                mask = causal & (torch.remainder(kp, bc) == torch.remainder(qp, bc))
            elif f == PREV_ROW:
                mask = torch.div(kp, bc, rounding_mode='floor') == torch.div(qp, bc, rounding_mode='floor') - 1
                gate = (qp >= bc).to(torch.float32)  # row 0 has no previous row: output zero
                # both bounds given: a one-sided clamp exports an empty Clip input (shape-inference warnings)
                first = torch.clamp(torch.div(nxt, bc, rounding_mode='floor') * bc - bc, 0, self.n_ctx)
                keep = torch.arange(first - start, lc + t)
            elif f == PRIME:
                mask = causal & (kp < self.prime_keys)
                keep = torch.arange(torch.clamp(nxt, 0, self.prime_keys))  # the first min(P + T, prime_keys)
            else:
                raise NotImplementedError(f)
            out[f] = (mask, gate, keep)
        return out

    def step(self, x: torch.Tensor, position: torch.Tensor, past: List[KV],
             enc: Optional[Dict[int, KV]] = None) -> Tuple[torch.Tensor, List[KV]]:
        """T = x.shape[1] positions from `position`; past[i] holds layer i's cache as `cache_range` lays
        it out for the query at `position`, and so do the returned presents for position + T."""
        t = x.shape[1]
        # Cached length per kind, from the first layer of that kind (a traced shape when exporting).
        past_len = {f: past[self.attn_funcs.index(f)][0].shape[2] for f in set(self.attn_funcs)}
        if not torch.jit.is_tracing():  # a wrongly laid out cache would silently mask the wrong keys
            pos = int(position[0])
            for i, f in enumerate(self.attn_funcs):
                lo, hi = self.cache_range(f, pos)
                assert past[i][0].shape[2] == hi - lo, f'layer {i} ({KIND_NAMES[f]}): cache length ' \
                    f'{past[i][0].shape[2]} at position {pos}, expected {hi - lo}'
        layouts = self.step_layouts(position, t, past_len)
        presents: List[KV] = []
        for i, (block, layer_past) in enumerate(zip(self._attn_mods, past)):
            x, present = block.step(x, layer_past, layouts[block.attn_func], enc.get(i) if enc else None)
            presents.append(present)
        return x, presents
