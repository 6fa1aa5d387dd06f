"""Equality check of our PyTorch port (tools/jukebox_model) against the official openai/jukebox code.

    JUKEBOX_SRC=/tmp/jukebox-src /usr/bin/python3 tools/check_official.py [--only hparams,vqvae,5b,...] [--steps N]

- hparams: our resolution of official hparam set names and overrides (jukebox_model/hparams.py over
  configs/presets.json) equals the official setup_hparams, every name, for the sets the exporter knows
  and a few overrides; both refuse an unknown set name and an unknown name.

Then builds small random models of our port (jukebox_model.init: random_vqvae, random_prior; the official
init zeroes some outputs), the official models of the same hps (setup_hparams + make_vqvae / make_prior, CPU,
fp16_params False), loads our state dicts into the official modules (strict) and compares:

- VQ-VAE (a small config and the released `vqvae` set's shapes): encode (codes equal) and
  decode per level (max abs / rel diff, tolerance 1e-5 relative);
- priors (5b-, 5b_lyrics-, 1b_lyrics-like top priors and an upsampler): the conditioning
  (y_cond, x_cond, encoder_kv), the full-window forward logits (official `prior.prior(...)` as in
  z_forward vs ours), and cached sampling steps: the official sample-mode transformer run step by
  step, fed the tokens it samples (seeded, temperature 2), against our cached `step` fed the same
  tokens; and chunked prefill (16 positions at a time) of both.
  Tolerance 1e-4 relative (max abs diff / max abs of the official values).

Without JUKEBOX_SRC it prints how to run it and "SKIPPED", exit 0. Exit 1 on any difference above
tolerance or any check that fails to run. Needs python3-tqdm python3-unidecode python3-soundfile
python3-fire (Debian) besides torch.
"""
import argparse
import json
import os
import sys
import time
import traceback
from typing import Callable, Dict, List, Optional

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

VQ_TOL = 1e-5
PRIOR_TOL = 1e-4
SAMPLE_TEMP = 2.0  # temperature of the tokens the official steps sample (fed to both); 2 keeps them varied

# The VQ-VAE that the small priors sit on (official downsampling, small widths).
SMALL_VQ = dict(levels=3, downs_t=(3, 2, 2), strides_t=(2, 2, 2), emb_width=16, l_bins=64, width=8, depth=3,
                hvqvae_multipliers=(2, 1, 1), dilation_growth_rate=3)

COMMON = dict(fp16_params=False, train=False, restore_prior='', restore_vqvae='')
# The scales of our random weights: those of the tiny model.
with open(os.path.join(HERE, 'configs', 'tiny.json'), encoding='utf-8') as _f:
    INIT = json.load(_f)['init']

# Set names and overrides whose resolution must equal the official setup_hparams (the sets of the released
# models, the small_* sets of the official README's training commands, and such commands' overrides).
HPARAMS_CASES = [
    ('vqvae', {}), ('upsampler_level_0', {}), ('upsampler_level_1', {}), ('prior_5b', {}), ('prior_5b_lyrics', {}),
    ('prior_1b_lyrics', {}), ('small_vqvae', {'sample_length': 262144, 'bs': 4, 'labels': False, 'train': True}),
    ('small_vqvae,small_prior,all_fp16,cpu_ema', {'restore_vqvae': 'logs/small_vqvae/checkpoint_latest.pth.tar',
                                                  'prior': True, 'levels': 2, 'level': 1, 'weight_decay': 0.01}),
    ('vqvae,small_upsampler,all_fp16,cpu_ema', {'levels': 3, 'level': 0, 'n_ctx': 128, 'y_bins': [10, 16]}),
    ('vqvae,small_labelled_prior,all_fp16,cpu_ema', {'levels': 3, 'level': 2, 'labels': True}),
    ('vqvae,small_single_enc_dec_prior', {'level': 2, 'n_tokens': 32}),
    ('vqvae,small_sep_enc_dec_prior', {'level': 2, 'prime_width': 32}),
    (' vqvae, small_prior ', {}), ('', {'sr': 16000}), ('teeny', {}), ('easy', {}),
]
# Both must refuse these (the official code raises KeyError / ValueError).
HPARAMS_REFUSED = [('small_priorr', {}), ('vqvae', {'n_ctxx': 1}), ('vqvae,,small_prior', {'restore_prior_': ''})]
# Small priors shaped like the released ones: same preset (attention pattern, lyric mode, labels
# version, merged decoder, conditioner kinds), reduced sizes.
PRIOR_CONFIGS: Dict[str, tuple] = {
    '5b': ('prior_5b', dict(n_ctx=64, prior_width=64, prior_depth=6, heads=2, blocks=8, y_bins=(12, 20),
                            t_bins=16)),
    '5b_lyrics': ('prior_5b_lyrics', dict(n_ctx=64, prior_width=32, prior_depth=19, heads=2, blocks=8,
                                          y_bins=(12, 20), t_bins=16, n_tokens=16, prime_width=32, prime_depth=3,
                                          prime_heads=2, prime_blocks=4, alignment_layer=None,
                                          alignment_head=None)),
    '1b_lyrics': ('prior_1b_lyrics', dict(n_ctx=64, prior_width=32, prior_depth=48, heads=2, blocks=8,
                                          y_bins=(12, 20), t_bins=16, n_tokens=16, alignment_layer=None,
                                          alignment_head=None)),
    'upsampler_level_1': ('upsampler_level_1', dict(n_ctx=64, prior_width=32, prior_depth=3, heads=1, blocks=8,
                                                    y_bins=(12, 20), cond_width=16, cond_depth=4)),
    'upsampler_level_0': ('upsampler_level_0', dict(n_ctx=64, prior_width=32, prior_depth=3, heads=1, blocks=8,
                                                    y_bins=(12, 20), cond_width=16, cond_depth=4)),
}


class Table:
    def __init__(self):
        self.rows: List[tuple] = []

    def add(self, model: str, what: str, ref: torch.Tensor, ours: torch.Tensor, tol: float, note: str = ''):
        ref, ours = ref.detach().double(), ours.detach().double()
        if ref.shape != ours.shape:
            self.rows.append((model, what, float('inf'), float('inf'), tol, False,
                              f'shape {tuple(ref.shape)} vs ours {tuple(ours.shape)}'))
            return
        abs_d = (ref - ours).abs().max().item() if ref.numel() else 0.0
        scale = ref.abs().max().item() if ref.numel() else 1.0
        rel = abs_d / max(scale, 1e-30)
        self.rows.append((model, what, abs_d, rel, tol, rel <= tol, note or f'max|ref| {scale:.3g}'))

    def add_equal(self, model: str, what: str, ref: torch.Tensor, ours: torch.Tensor):
        same = ref.shape == ours.shape and torch.equal(ref, ours)
        n_diff = int((ref != ours).sum()) if ref.shape == ours.shape else -1
        self.rows.append((model, what, float(n_diff), float(n_diff), 0.0, same, f'{n_diff} of {ref.numel()} differ'))

    def fail(self, model: str, what: str, msg: str):
        self.rows.append((model, what, float('nan'), float('nan'), 0.0, False, msg))

    def print(self):
        print(f'{"model":<20} {"check":<34} {"max abs":>10} {"max rel":>10} {"tol":>8}  ok   note')
        for m, w, a, r, tol, ok, note in self.rows:
            print(f'{m:<20} {w:<34} {a:>10.3g} {r:>10.3g} {tol:>8.0e}  {"yes" if ok else "NO ":<4} {note}')

    @property
    def ok(self) -> bool:
        return all(r[5] for r in self.rows)


# ----------------------------------------------------------------------------------------------
# VQ-VAE


def vqvae_pair(J, vq: dict, sample_length: int, seed: int):
    """(official VQVAE, our random VQVAE) with the same weights, both of the `vqvae` set with `vq` over it."""
    from official_code import official_hps
    from jukebox_model.hparams import vqvae_hps
    from jukebox_model.init import random_vqvae
    ours = random_vqvae(vqvae_hps('vqvae', **vq), seed, INIT)
    ref = J.make_vqvae(official_hps(J, 'vqvae', dict(sample_length=sample_length, **vq)), 'cpu')
    ref.load_state_dict(ours.state_dict())  # strict: the same names
    return ref.eval(), ours


@torch.no_grad()
def check_vqvae(J, table: Table, name: str, vq: dict, n_top_tokens: int, seed: int):
    hop_top = 1
    for d, s in zip(vq.get('downs_t', (3, 2, 2)), vq.get('strides_t', (2, 2, 2))):
        hop_top *= s ** d
    sample_length = n_top_tokens * hop_top
    ref, ours = vqvae_pair(J, vq, sample_length, seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, sample_length, 1, generator=g) * 2 - 1
    zs_ref = ref.encode(x)
    zs_ours = ours.encode(x)
    for level in range(len(zs_ref)):
        table.add_equal(name, f'encode level {level} codes', zs_ref[level], zs_ours[level])
        a = ref.decode([zs_ref[level]], start_level=level, end_level=level + 1)
        b = ours.decode([zs_ref[level]], start_level=level)
        table.add(name, f'decode level {level}', a, b, VQ_TOL)


# ----------------------------------------------------------------------------------------------
# Hyperparameters


def check_hparams(J, table: Table):
    """Our resolve_hps equals the official setup_hparams on HPARAMS_CASES (every name; tuples as lists), and
    both refuse HPARAMS_REFUSED."""
    from jukebox_model.hparams import HpsError, resolve_hps
    norm = lambda d: {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}  # noqa: E731
    for names, overrides in HPARAMS_CASES:
        off = norm(J.setup_hparams(names, dict(overrides)))
        ours = resolve_hps(names, overrides)
        diffs = [f'{k}: ours {ours.get(k)!r}, official {off.get(k)!r}' for k in sorted(set(off) | set(ours))
                 if k not in off or k not in ours or ours[k] != off[k]]
        label = f'{names!r} + {len(overrides)} overrides'
        table.rows.append(('hparams', label[:34], float(len(diffs)), float(len(diffs)), 0.0, not diffs,
                           '; '.join(diffs)[:200] or f'{len(off)} names equal'))
    for names, overrides in HPARAMS_REFUSED:
        refused = []
        for resolve, errors in ((J.setup_hparams, (KeyError, ValueError)), (resolve_hps, (HpsError,))):
            try:
                resolve(names, dict(overrides))
                refused.append(False)
            except errors:
                refused.append(True)
        table.rows.append(('hparams', f'refused: {names!r}'[:34], 0.0, 0.0, 0.0, all(refused),
                           f'official {refused[0]}, ours {refused[1]}'))


# ----------------------------------------------------------------------------------------------
# Priors


def build_prior_pair(J, key: str, seed: int):
    """(official SimplePrior, our random SimplePrior, official hps, hop), the official one with our weights."""
    from official_code import official_hps
    from jukebox_model.hparams import prior_hps
    from jukebox_model.init import random_prior

    preset, over = PRIOR_CONFIGS[key]
    hps = official_hps(J, preset, {**COMMON, **over})
    hop = 1
    for l in range(hps.level + 1):
        hop *= SMALL_VQ['strides_t'][l] ** SMALL_VQ['downs_t'][l]
    vq_ref, vq_ours = vqvae_pair(J, SMALL_VQ, hps.n_ctx * hop, seed)
    ours = random_prior(prior_hps(dict(hps)), vq_ours.hps, seed + 1, INIT)
    torch.manual_seed(seed)
    ref = J.make_prior(hps, vq_ref, 'cpu')
    ref.load_state_dict(ours.state_dict())  # strict: the same names
    ref.eval()
    return ref, ours, hps, hop


def example_inputs(ref, hps, hop: int, n: int, seed: int):
    """Label vectors y [n, 4 + G + n_tokens], upper-level tokens z_conds, and music tokens [n, n_ctx]."""
    g = torch.Generator().manual_seed(seed)
    n_ctx = hps.n_ctx
    sr, window = hps.sr, n_ctx * hop
    lo = int(hps.min_duration * sr) + 1 if hps.min_duration else window * 2
    hi = int(hps.max_duration * sr) if hps.max_duration else window * 40
    total = torch.randint(lo, min(hi, lo + 120 * sr), (n,), generator=g) // hop * hop
    total = torch.maximum(total, torch.full_like(total, lo + hop - 1) // hop * hop)
    offset = torch.stack([torch.randint(0, int(total[i]) - window, (1,), generator=g)[0] for i in range(n)]) // hop * hop
    genre_bins, artist_bins = hps.y_bins
    G = hps.max_bow_genre_size
    ys = []
    for i in range(n):
        n_gen = 1 + i % G
        genres = torch.randint(0, genre_bins, (n_gen,), generator=g).tolist() + [-1] * (G - n_gen)
        artist = int(torch.randint(0, artist_bins, (1,), generator=g))
        row = [int(total[i]), int(offset[i]), n_ctx * hop, artist] + genres
        if ref.n_tokens:
            row += torch.randint(0, hps.n_vocab, (ref.n_tokens,), generator=g).tolist()
        ys.append(row)
    y = torch.tensor(ys, dtype=torch.long)
    z_conds = None
    upper = None
    if ref.x_cond:
        upper = torch.randint(0, ref.l_bins, (n, n_ctx // ref.cond_downsample), generator=g)
        z_conds = [upper]
    music = torch.randint(0, ref.l_bins, (n, n_ctx), generator=g)
    return y, z_conds, upper, music


@torch.no_grad()
def official_cond(ref, y, z_conds):
    x_cond, y_cond, prime = ref.get_cond(z_conds, y)
    encoder_kv = None
    if not ref.single_enc_dec:
        encoder_kv = ref.get_encoder_kv(prime)
    return x_cond, y_cond, prime, encoder_kv


@torch.no_grad()
def official_full_logits(ref, y, z_conds, music):
    """The official whole-window forward (as z_forward does it) -> logits [n, seq, bins], one row at a time."""
    outs = []
    for i in range(y.shape[0]):
        zc = [z[i:i + 1] for z in z_conds] if z_conds else z_conds
        x_cond, y_cond, prime, encoder_kv = official_cond(ref, y[i:i + 1], zc)
        z = music[i:i + 1]
        if ref.single_enc_dec:
            seq, x_cond = ref.prior_preprocess([prime, z], [None, x_cond])
            _, preds = ref.prior(seq, x_cond, y_cond, get_preds=True, get_sep_loss=True)
        else:
            _, preds = ref.prior(z, x_cond, y_cond, encoder_kv, get_preds=True)
        outs.append(preds)
    return torch.cat(outs, 0)


@torch.no_grad()
def check_prior_cond(table: Table, key: str, ref, ours, y, z_conds, upper):
    x_cond, y_cond, prime, encoder_kv = official_cond(ref, y, z_conds)
    y_o, x_o, kv_o = ours.get_cond(y, upper)
    table.add(key, 'y_cond', y_cond.reshape(y_o.shape), y_o, PRIOR_TOL)
    if ref.single_enc_dec:
        _, x_cond = ref.prior_preprocess([prime, torch.zeros(y.shape[0], ref.prior_dims[1], dtype=torch.long)],
                                         [None, x_cond])
    if x_cond is not None:
        table.add(key, 'x_cond', x_cond, x_o, PRIOR_TOL)
    if encoder_kv is not None or kv_o is not None:
        if encoder_kv is None or kv_o is None:
            table.fail(key, 'encoder_kv', f'official {encoder_kv is not None}, ours {kv_o is not None}')
        else:
            table.add(key, 'encoder_kv', encoder_kv, kv_o, PRIOR_TOL)


@torch.no_grad()
def check_prior_forward(table: Table, key: str, ref, ours, y, z_conds, upper, music):
    a = official_full_logits(ref, y, z_conds, music)
    b = torch.cat([ours.full_logits(y[i:i + 1], upper[i:i + 1] if upper is not None else None,
                                    ours.sequence(y[i:i + 1], music[i:i + 1])) for i in range(y.shape[0])], 0)
    table.add(key, 'forward logits (full window)', a, b, PRIOR_TOL)


@torch.no_grad()
def check_prior_steps(table: Table, key: str, ref, ours, y, z_conds, upper, n_steps: Optional[int], seed: int):
    """Official sample-mode transformer, one position at a time, fed the tokens it samples (seeded,
    temperature SAMPLE_TEMP; lyric prefix positions fed the known lyrics) vs our cached step fed the same tokens."""
    n = y.shape[0]
    x_cond, y_cond, prime, encoder_kv = official_cond(ref, y, z_conds)
    ar = ref.prior
    if ref.single_enc_dec:
        x_cond_seq = ref.prior_preprocess([prime, torch.zeros(n, ref.prior_dims[1], dtype=torch.long)],
                                          [None, x_cond])[1]
        known = prime
    else:
        x_cond_seq = x_cond if x_cond is not None else torch.zeros(n, 1, ar.width)
        known = torch.zeros(n, 0, dtype=torch.long)
    seq_len = ar.input_dims
    steps = seq_len if n_steps is None else min(seq_len, known.shape[1] + n_steps)
    # ours
    y_o, x_o, kv_o = ours.get_cond(y, upper)
    enc = ours.prior.transformer.project_encoder_kv(kv_o) if kv_o is not None else None
    past = ours.prior.transformer.empty_cache(n)
    g = torch.Generator().manual_seed(seed)
    prev = None
    ref_logits, our_logits, fed = [], [], []
    try:
        for t in range(steps):
            h, cond = ar.get_emb(t, n, prev, x_cond_seq, y_cond)
            ar.transformer.check_cache(n, t, False)
            h = ar.transformer(h, encoder_kv=encoder_kv, sample=True, fp16=False)
            if ar.add_cond_after_transformer:
                h = h + cond
            lr = ar.x_out(h)[:, 0]
            tok_in = prev if prev is not None else torch.zeros(n, 1, dtype=torch.long)
            lo, past = ours.prior.step(tok_in, torch.tensor([t]), x_o[:, t:t + 1], y_o, enc, past)
            ref_logits.append(lr)
            our_logits.append(lo)
            fed.append(tok_in)
            if t < known.shape[1]:
                prev = known[:, t:t + 1]
            else:
                prev = torch.multinomial(torch.softmax(lr.double() / SAMPLE_TEMP, -1), 1, generator=g)
    finally:
        ar.transformer.del_cache()
    a, b = torch.stack(ref_logits, 1), torch.stack(our_logits, 1)
    fed = torch.cat(fed, 1)
    n_distinct = len(set(fed[:, known.shape[1] + 1:].flatten().tolist()))
    table.add(key, f'step logits ({steps} cached steps)', a, b, PRIOR_TOL,
              f'max|ref| {a.abs().max():.3g}, {n_distinct} distinct sampled tokens')
    return dict(step_logits=a, fed=fed, x_cond_seq=x_cond_seq, y_cond=y_cond, encoder_kv=encoder_kv,
                ours_cond=(y_o, x_o, enc))


@torch.no_grad()
def check_prior_prefill(table: Table, key: str, ref, ours, st: dict, chunk: int = 16):
    """Chunked prefill: the official sample-mode transformer fed `chunk` positions at once (as
    primed_sample fills its cache) vs our step with T = chunk (logits of each chunk's last position),
    over the tokens of check_prior_steps; also our chunk-end logits vs the official single steps."""
    ar = ref.prior
    fed, n = st['fed'], st['fed'].shape[0]
    steps = fed.shape[1]
    y_o, x_o, enc = st['ours_cond']
    past = ours.prior.transformer.empty_cache(n)
    ref_chunks, ours_ends, ends = [], [], []
    try:
        ar.transformer.del_cache()
        for p in range(0, steps, chunk):
            q = min(steps, p + chunk)
            embs, conds = [], []
            for t in range(p, q):
                prev = fed[:, t:t + 1] if t > 0 else None
                e, c = ar.get_emb(t, n, prev, st['x_cond_seq'], st['y_cond'])
                embs.append(e)
                conds.append(c)
            h = ar.transformer(torch.cat(embs, 1), encoder_kv=st['encoder_kv'], sample=True, fp16=False)
            if ar.add_cond_after_transformer:
                h = h + torch.cat(conds, 1)
            ref_chunks.append(ar.x_out(h))
            lo, past = ours.prior.step(fed[:, p:q], torch.tensor([p]), x_o[:, p:q], y_o, enc, past)
            ours_ends.append(lo)
            ends.append(q - 1)
    finally:
        ar.transformer.del_cache()
    ref_all = torch.cat(ref_chunks, 1)
    ours_end = torch.stack(ours_ends, 1)
    table.add(key, f'prefill chunk {chunk}: official vs ours', ref_all[:, ends], ours_end, PRIOR_TOL)
    table.add(key, f'prefill chunk {chunk}: ours vs official steps', st['step_logits'][:, ends], ours_end,
              PRIOR_TOL)
    table.add(key, f'official: chunked vs single steps', st['step_logits'], ref_all, PRIOR_TOL)


PRIOR_CHECKS: List[Callable] = [check_prior_cond, check_prior_forward, check_prior_steps, check_prior_prefill]


def check_prior(J, table: Table, key: str, seed: int, n_steps: Optional[int]):
    t0 = time.time()
    try:
        ref, ours, hps, hop = build_prior_pair(J, key, seed)
    except Exception as e:  # our port may not support this config yet
        traceback.print_exc()
        table.fail(key, 'build + load state dict', f'{type(e).__name__}: {str(e)[:160]}')
        return
    y, z_conds, upper, music = example_inputs(ref, hps, hop, 2, seed)
    st = None
    for fn in PRIOR_CHECKS:
        try:
            if fn is check_prior_steps:
                st = fn(table, key, ref, ours, y, z_conds, upper, n_steps, seed)
            elif fn is check_prior_prefill:
                if st is not None:
                    fn(table, key, ref, ours, st)
            elif fn is check_prior_forward:
                fn(table, key, ref, ours, y, z_conds, upper, music)
            else:
                fn(table, key, ref, ours, y, z_conds, upper)
        except Exception as e:
            traceback.print_exc()
            table.fail(key, fn.__name__, f'{type(e).__name__}: {str(e)[:160]}')
    print(f'[{key}] {time.time() - t0:.1f}s', flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', default='', help='comma-separated subset: hparams,vqvae,vqvae_preset,' + ','.join(PRIOR_CONFIGS))
    ap.add_argument('--steps', type=int, default=None, help='cached steps per prior (default: the whole window)')
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args()
    src = os.environ.get('JUKEBOX_SRC')
    if not src:
        print('set JUKEBOX_SRC to a checkout of openai/jukebox to run the equality check')
        print('SKIPPED')
        return 0
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    from official_code import import_official
    J = import_official(src)
    only = set(filter(None, args.only.split(',')))
    want = lambda k: not only or k in only  # noqa: E731
    table = Table()
    import contextlib
    import io
    quiet = io.StringIO()  # the official code prints a lot while building
    if want('hparams'):
        check_hparams(J, table)
    if want('vqvae'):
        with contextlib.redirect_stdout(quiet):
            check_vqvae(J, table, 'vqvae (small)', SMALL_VQ, 32, args.seed)
    if want('vqvae_preset'):
        with contextlib.redirect_stdout(quiet):
            check_vqvae(J, table, 'vqvae (preset)', {}, 24, args.seed)
    for key in PRIOR_CONFIGS:
        if want(key):
            with contextlib.redirect_stdout(quiet):
                check_prior(J, table, key, args.seed, args.steps)
    table.print()
    if table.ok:
        print('OK: the port matches the official code')
        return 0
    print('FAILED: differences above tolerance (or checks that did not run)')
    return 1


if __name__ == '__main__':
    sys.exit(main())
