"""Hyperparameters of the Jukebox prior family under the official names (jukebox/hparams.py).

`tools/configs/presets.json` holds the official presets (values as in the released hparams.py):
5b, 5b_lyrics, 1b_lyrics (top priors), upsampler_level_0, upsampler_level_1, vqvae. A preset or a
JSON file of official names is completed with the official defaults below, so a small random
configuration only needs the names it changes (e.g. prior_width 64, prior_depth 6, n_ctx 128).
"""
import json
import os
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
PRESETS_PATH = os.path.join(os.path.dirname(HERE), 'configs', 'presets.json')

# The official defaults (DEFAULTS of hparams.py) that the prior family reads.
PRIOR_DEFAULTS = {
    'level': 0,
    'n_ctx': 1024, 'prior_width': 128, 'prior_depth': 3, 'heads': 1, 'attn_order': 0, 'blocks': None,
    'spread': None, 'm_attn': 0.25, 'm_mlp': 1.0, 'res_scale': False, 'pos_init': False, 'init_scale': 1.0,
    'zero_out': False,
    'labels': True, 'labels_v3': False, 'y_bins': [120, 4111], 't_bins': 64, 'max_bow_genre_size': 5,
    'min_duration': None, 'max_duration': None, 'n_vocab': 0, 'n_tokens': 0, 'use_tokens': False,
    'merged_decoder': False, 'single_enc_dec': False, 'copy_input': False, 'fp16_params': False,
    'cond_width': 128, 'cond_depth': 3, 'cond_m_conv': 1.0, 'cond_zero_out': False, 'cond_res_scale': False,
    'cond_dilation_growth_rate': 1, 'cond_dilation_cycle': None, 'cond_c_res': 0,
    'prime_width': 128, 'prime_depth': 3, 'prime_heads': 1, 'prime_attn_order': 0, 'prime_blocks': None,
    'prime_spread': None, 'prime_m_attn': 0.25, 'prime_m_mlp': 1.0, 'prime_init_scale': 1.0,
    'prime_loss_fraction': 0.1, 'alignment_layer': None, 'alignment_head': None,
    'sr': 44100,
}

VQVAE_DEFAULTS = {
    'levels': 3, 'downs_t': [3, 2, 2], 'strides_t': [2, 2, 2], 'l_bins': 2048, 'emb_width': 64,
}

# Which official prior presets make a model (jukebox/make_models.py MODELS), top prior last.
MODELS: Dict[str, List[str]] = {
    '5b': ['upsampler_level_0', 'upsampler_level_1', 'prior_5b'],
    '5b_lyrics': ['upsampler_level_0', 'upsampler_level_1', 'prior_5b_lyrics'],
    '1b_lyrics': ['upsampler_level_0', 'upsampler_level_1', 'prior_1b_lyrics'],
}

# Checkpoint files as the official release names them (jukebox/models/<dir>/<file>).
CHECKPOINTS = {
    'upsampler_level_0': '5b/prior_level_0.pth.tar',
    'upsampler_level_1': '5b/prior_level_1.pth.tar',
    'prior_5b': '5b/prior_level_2.pth.tar',
    'prior_5b_lyrics': '5b_lyrics/prior_level_2.pth.tar',
    'prior_1b_lyrics': '1b_lyrics/prior_level_2.pth.tar',
    'vqvae': '5b/vqvae.pth.tar',
}


def load_presets() -> dict:
    with open(PRESETS_PATH, encoding='utf-8') as f:
        data = json.load(f)
    return {k: v for k, v in data.items() if not k.startswith('_')}


def prior_hps(preset_or_dict, **overrides) -> dict:
    """Official defaults < preset (a name in presets.json, or a dict of official names) < overrides."""
    hps = dict(PRIOR_DEFAULTS)
    if isinstance(preset_or_dict, str):
        presets = load_presets()
        if preset_or_dict not in presets:
            raise KeyError(f'unknown preset {preset_or_dict!r}; known: {sorted(presets)}')
        src = presets[preset_or_dict]
    else:
        src = preset_or_dict
    for k, v in list(src.items()) + list(overrides.items()):
        if k.startswith('_'):
            continue
        if k not in hps:
            raise KeyError(f'{k!r} is not a prior hyperparameter')
        hps[k] = v
    if hps['y_bins'] is not None:
        hps['y_bins'] = list(hps['y_bins'])
    return hps


def vqvae_hps(d=None) -> dict:
    hps = dict(VQVAE_DEFAULTS)
    if d is None:
        d = load_presets()['vqvae']
    for k, v in d.items():
        if k in hps:
            hps[k] = v
    return hps
