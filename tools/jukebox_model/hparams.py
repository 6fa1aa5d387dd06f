"""Official Jukebox hyperparameters (jukebox/hparams.py of openai/jukebox): resolution, and the names our port reads.

`tools/configs/presets.json` holds the official DEFAULTS and every registered hparam set, as data.
`resolve_hps(set_names, overrides)` resolves them as the official `setup_hparams(set_names, overrides)` does:
the defaults, then each named set in order (comma-joined names), then the overrides. A set name the official
registry lacks, or a name that is not an official hyperparameter, raises HpsError naming it (the official code
raises KeyError / ValueError there).

`prior_hps` and `vqvae_hps` take from such a resolution the names our prior (prior.py) and VQ-VAE (vqvae.py)
read, check their kinds and the values the port implements, and return them; the other official names
(training, data, file locations) do not change a model and are left out. `read_model_spec` reads an exporter
--hps file (see tools/README.md) into the VQ-VAE and per-level prior hps.
"""
import json
import os
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
PRESETS_PATH = os.path.join(os.path.dirname(HERE), 'configs', 'presets.json')


class HpsError(ValueError):
    """A hyperparameter that cannot be used; the message names it."""


# The official names the prior reads (prior.py, conditioners.py, export.py), with the kind of value each takes.
PRIOR_KINDS = {
    'level': 'int', 'n_ctx': 'int', 'prior_width': 'int', 'prior_depth': 'int', 'heads': 'int', 'attn_order': 'int',
    'blocks': 'int?', 'spread': 'int?', 'm_attn': 'number', 'm_mlp': 'number', 'res_scale': 'bool', 'pos_init': 'bool',
    'init_scale': 'number', 'zero_out': 'bool',
    'labels': 'bool', 'labels_v3': 'bool', 'y_bins': 'ints', 't_bins': 'int', 'max_bow_genre_size': 'int',
    'min_duration': 'number?', 'max_duration': 'number?', 'n_vocab': 'int', 'n_tokens': 'int', 'use_tokens': 'bool',
    'merged_decoder': 'bool', 'single_enc_dec': 'bool', 'copy_input': 'bool', 'fp16_params': 'bool',
    'cond_width': 'int', 'cond_depth': 'int', 'cond_m_conv': 'number', 'cond_zero_out': 'bool', 'cond_res_scale': 'bool',
    'cond_dilation_growth_rate': 'int', 'cond_dilation_cycle': 'int?', 'cond_c_res': 'bool',
    'prime_width': 'int', 'prime_depth': 'int', 'prime_heads': 'int', 'prime_attn_order': 'int', 'prime_blocks': 'int?',
    'prime_spread': 'int?', 'prime_m_attn': 'number', 'prime_m_mlp': 'number', 'prime_init_scale': 'number',
    'prime_loss_fraction': 'number', 'alignment_layer': 'int?', 'alignment_head': 'int?',
    'sr': 'int',
}
# The official names the VQ-VAE reads (vqvae.py).
VQVAE_KINDS = {
    'levels': 'int', 'downs_t': 'ints', 'strides_t': 'ints', 'emb_width': 'int', 'l_bins': 'int',
    'hvqvae_multipliers': 'ints?', 'width': 'int', 'depth': 'int', 'm_conv': 'number', 'dilation_growth_rate': 'int',
    'dilation_cycle': 'int?', 'vqvae_reverse_decoder_dilation': 'bool', 'use_bottleneck': 'bool', 'sr': 'int',
}
# Official names that change the model where our port implements one value only: any other value is an error.
PRIOR_ONLY = {'labels': True, 'pos_init': False, 'copy_input': False, 'prime_res_scale': False, 'prime_pos_init': False}
VQVAE_ONLY = {'use_bottleneck': True}
# The attn_order patterns transformer.attn_func_for implements (3, 4 and 5 use attention kinds 4 and 5).
ATTN_ORDERS = (0, 1, 2, 6, 7, 8, 9, 10, 11, 12)

# Which official sets make a released model (jukebox/make_models.py MODELS), top prior last.
MODELS: Dict[str, List[str]] = {
    '5b': ['upsampler_level_0', 'upsampler_level_1', 'prior_5b'],
    '5b_lyrics': ['upsampler_level_0', 'upsampler_level_1', 'prior_5b_lyrics'],
    '1b_lyrics': ['upsampler_level_0', 'upsampler_level_1', 'prior_1b_lyrics'],
}

# Checkpoint files as the official release names them (jukebox/models/<dir>/<file>; the sets' restore_* URLs).
CHECKPOINTS = {
    'upsampler_level_0': '5b/prior_level_0.pth.tar',
    'upsampler_level_1': '5b/prior_level_1.pth.tar',
    'prior_5b': '5b/prior_level_2.pth.tar',
    'prior_5b_lyrics': '5b_lyrics/prior_level_2.pth.tar',
    'prior_1b_lyrics': '1b_lyrics/prior_level_2.pth.tar',
    'vqvae': '5b/vqvae.pth.tar',
}

_PRESETS = None


def load_presets() -> dict:
    """{'defaults': {group: {name: value}}, 'sets': {set name: {name: value}}} (presets.json, read once)."""
    global _PRESETS
    if _PRESETS is None:
        with open(PRESETS_PATH, encoding='utf-8') as f:
            data = json.load(f)
        _PRESETS = {'defaults': data['defaults'], 'sets': data['sets']}
    return _PRESETS


def set_names(names: str) -> List[str]:
    """'vqvae,small_prior' -> ['vqvae', 'small_prior'] (split and stripped as the official code does)."""
    if not isinstance(names, str):
        raise HpsError(f'hparam set names must be a string of comma-joined names, got {names!r}')
    return [x.strip() for x in names.split(',') if x]


def resolve_hps(names: str = '', overrides: Optional[dict] = None) -> dict:
    """Every official hyperparameter, as the official setup_hparams(names, overrides) resolves it."""
    presets = load_presets()
    hps = {}
    for group in presets['defaults'].values():
        hps.update(group)
    sources = []
    for name in set_names(names):
        if name not in presets['sets']:
            raise HpsError(f'unknown hparam set {name!r} (official sets: {", ".join(presets["sets"])})')
        sources.append(presets['sets'][name])
    sources.append(overrides or {})
    for src in sources:
        for k in src:
            if k not in hps:  # the official code: ValueError(f"{k} not in default args")
                raise HpsError(f'{k!r} is not an official hyperparameter (not in the official DEFAULTS)')
        hps.update(src)
    return hps


def given_names(names: str = '', overrides: Optional[dict] = None) -> List[str]:
    """The names the sets and the overrides give (not the defaults), in order."""
    sets = load_presets()['sets']
    out = []
    for src in [sets.get(n, {}) for n in set_names(names)] + [overrides or {}]:
        out += [k for k in src if k not in out]
    return out


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_ints(v) -> bool:
    return isinstance(v, (list, tuple)) and all(_is_int(x) for x in v)


_KIND_CHECKS = {
    'int': (_is_int, 'an integer'),
    'int?': (lambda v: v is None or _is_int(v), 'an integer or null'),
    'number': (lambda v: _is_int(v) or isinstance(v, float), 'a number'),
    'number?': (lambda v: v is None or _is_int(v) or isinstance(v, float), 'a number or null'),
    'bool': (lambda v: isinstance(v, bool) or (_is_int(v) and v in (0, 1)), 'true or false (or 0/1)'),
    'ints': (_is_ints, 'a list of integers'),
    'ints?': (lambda v: v is None or _is_ints(v), 'a list of integers or null'),
}


def _pick(full: dict, kinds: Dict[str, str], only: Dict[str, object]) -> dict:
    """The names of `kinds` from a resolution (lists for tuples), each checked for its kind; `only` names must
    hold the one value the port implements."""
    hps = {}
    for k, kind in kinds.items():
        v = list(full[k]) if isinstance(full[k], tuple) else full[k]
        ok, what = _KIND_CHECKS[kind]
        if not ok(v):
            raise HpsError(f'{k}: expected {what}, got {v!r}')
        hps[k] = v
    for k, v in only.items():
        if bool(full[k]) != v:
            raise HpsError(f'{k}: only {v} is supported by this port, got {full[k]!r}')
    return hps


def _resolve_arg(names_or_hps, overrides: dict) -> dict:
    """A set name string (resolved with the overrides), or a dict of official names over the defaults."""
    if isinstance(names_or_hps, dict):
        return resolve_hps('', {**names_or_hps, **overrides})
    return resolve_hps(names_or_hps or '', overrides)


def prior_hps(names_or_hps='', **overrides) -> dict:
    """The prior hps of our port: official set name(s) with overrides, or a dict of official names over the
    official defaults (a full resolution too). Names that do not change the prior are left out."""
    full = _resolve_arg(names_or_hps, overrides)
    hps = _pick(full, PRIOR_KINDS, PRIOR_ONLY)
    if len(hps['y_bins']) != 2:
        raise HpsError(f'y_bins: expected [genres, artists], got {hps["y_bins"]!r}')
    for k in ('attn_order', 'prime_attn_order'):
        if hps[k] not in ATTN_ORDERS:
            raise HpsError(f'{k}: {hps[k]} is not supported by this port (supported: {list(ATTN_ORDERS)})')
    return hps


def vqvae_hps(names_or_hps='vqvae', **overrides) -> dict:
    """The VQ-VAE hps of our port: official set name(s) (default the released `vqvae`) with overrides, or a
    dict of official names over the official defaults. Names that do not change the VQ-VAE are left out."""
    full = _resolve_arg(names_or_hps, overrides)
    hps = _pick(full, VQVAE_KINDS, VQVAE_ONLY)
    n = hps['levels']
    for k in ('downs_t', 'strides_t', 'hvqvae_multipliers'):
        if hps[k] is not None and len(hps[k]) != n:
            raise HpsError(f'{k}: expected one entry per level ({n}), got {hps[k]!r}')
    return hps


# ----------------------------------------------------------------------------------------------
# The exporter's --hps file


def _entry(raw, where: str, old_defaults: dict) -> dict:
    """One component of an hps file -> {'hparams', 'overrides', 'checkpoint'}.

    New format: {"hparams": "set[,set...]", "overrides": {...}, "checkpoint": "path"} (overrides and checkpoint
    optional). Old format: official names over an optional "preset" (a set name); `old_defaults` fill in names
    it does not give (the file's "sr")."""
    if not isinstance(raw, dict):
        raise HpsError(f'{where}: expected an object, got {raw!r}')
    if 'hparams' in raw:
        extra = sorted(set(raw) - {'hparams', 'overrides', 'checkpoint'})
        if extra:
            raise HpsError(f'{where}: unknown field {extra[0]!r} (an entry has "hparams", "overrides", "checkpoint")')
        overrides = raw.get('overrides', {})
        if not isinstance(overrides, dict):
            raise HpsError(f'{where}: "overrides" must be an object of official names, got {overrides!r}')
        checkpoint = raw.get('checkpoint')
        if checkpoint is not None and not isinstance(checkpoint, str):
            raise HpsError(f'{where}: "checkpoint" must be a path, got {checkpoint!r}')
        return {'hparams': raw['hparams'], 'overrides': dict(overrides), 'checkpoint': checkpoint}
    overrides = {k: v for k, v in raw.items() if not k.startswith('_') and k != 'preset'}
    for k, v in old_defaults.items():
        overrides.setdefault(k, v)
    return {'hparams': raw.get('preset') or '', 'overrides': overrides, 'checkpoint': None}


def _same(a, b) -> bool:
    norm = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731
    return norm(a) == norm(b)


def read_model_spec(spec: dict, sr: int = 44100) -> dict:
    """An exporter --hps file (parsed JSON) -> {'vqvae': vqvae hps, 'vqvae_entry', 'priors': [prior hps],
    'prior_entries', 'ignored': [(where, [names])], 'hop_fractions' (or None)}, priors sorted by level.

    `sr` is the old format's default sample rate (the file's "sr" first). Prior entries must give one prior per
    VQ-VAE level, and any VQ-VAE name an entry gives (its sets' or its overrides') must equal the VQ-VAE's:
    an official training run builds the VQ-VAE it trains on from those names. Raises HpsError naming the entry
    and the name."""
    if not isinstance(spec, dict) or not isinstance(spec.get('priors'), list):
        raise HpsError('expected an object with "priors": [one entry per level] (and "vqvae")')
    old_prior_defaults = {'sr': spec.get('sr', sr)}
    vq_raw = spec.get('vqvae', {})
    if isinstance(vq_raw, dict) and 'hparams' not in vq_raw:  # old format: names over the released `vqvae` set
        vq_raw = {'hparams': 'vqvae', 'overrides': {k: v for k, v in vq_raw.items() if not k.startswith('_')}}
    vq_entry = _entry(vq_raw, 'vqvae', {})
    try:
        vq = vqvae_hps(vq_entry['hparams'], **vq_entry['overrides'])
    except HpsError as e:
        raise HpsError(f'vqvae ({vq_entry["hparams"]}): {e}') from None
    # Reported: the overrides that change nothing exported (the sets' training names are the official bundles).
    ignored = [('vqvae', [k for k in vq_entry['overrides'] if k not in VQVAE_KINDS])]

    priors, entries = [], []
    for i, raw in enumerate(spec['priors']):
        where = f'priors[{i}]'
        e = _entry(raw, where, old_prior_defaults)
        if e['hparams']:
            where += f' ({e["hparams"]})'
        try:
            full = resolve_hps(e['hparams'], e['overrides'])
            h = prior_hps(full)
        except HpsError as err:
            raise HpsError(f'{where}: {err}') from None
        for k in given_names(e['hparams'], e['overrides']):
            if k in VQVAE_KINDS and k not in PRIOR_KINDS and not _same(full[k], vq[k]):
                raise HpsError(f'{where}: {k} is {full[k]!r} here but {vq[k]!r} for the VQ-VAE')
        ignored.append((f'level {h["level"]}', [k for k in e['overrides'] if k not in PRIOR_KINDS
                                                 and k not in PRIOR_ONLY and k not in VQVAE_KINDS]))
        priors.append(h)
        entries.append(e)
    order = sorted(range(len(priors)), key=lambda j: priors[j]['level'])
    priors, entries = [priors[j] for j in order], [entries[j] for j in order]
    levels = [h['level'] for h in priors]
    if levels != list(range(vq['levels'])):
        raise HpsError(f'priors: levels {levels}; the VQ-VAE has {vq["levels"]} levels, one prior each')
    return {'vqvae': vq, 'vqvae_entry': vq_entry, 'priors': priors, 'prior_entries': entries,
            'ignored': [(w, names) for w, names in ignored if names],
            'hop_fractions': spec.get('hop_fractions')}


def ignored_line(ignored: List[Tuple[str, List[str]]]) -> Optional[str]:
    """One line naming the given hyperparameters that change no exported graph (training, data, file locations)."""
    if not ignored:
        return None
    return 'ignored (training, data or file-location hyperparameters): ' + '; '.join(
        f'{where}: {", ".join(names)}' for where, names in ignored)
