"""A training round's config (tools/configs/tiny-training*.json) and the model config it trains: its
"model_config" with the round's "model_overrides" applied ({"priors": {LEVEL: {hps}}}), so that an experiment
that changes a few hyperparameters names them instead of copying the whole model config."""
import copy
import json
import os

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs')


def read_training(training: str):
    """(training config, model config) of `training`: a path, or a file name under tools/configs."""
    path = training if os.path.sep in training else os.path.join(CONFIGS, training)
    with open(path, encoding='utf-8') as f:
        tr = json.load(f)
    with open(os.path.join(os.path.dirname(path), tr['model_config']), encoding='utf-8') as f:
        cfg = json.load(f)
    overrides = tr.get('model_overrides', {})
    if overrides:
        cfg = copy.deepcopy(cfg)
        cfg.pop('weights', None)  # the overridden model is not the one whose weights the config names
        for level, hps in overrides.get('priors', {}).items():
            next(p for p in cfg['priors'] if p['level'] == int(level)).update(hps)
    return tr, cfg
