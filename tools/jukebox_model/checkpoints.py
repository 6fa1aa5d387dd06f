"""Loading official checkpoints into our modules, strictly.

An official `*.pth.tar` is a dict {'hps': the training hps, 'model': state dict, 'step': ..., ...} (train.py's
save_checkpoint; the released files alike); a checkpoint saved from a DistributedDataParallel wrapper prefixes
every key with 'module.'. Weights stored fp16 are upcast into our float32 parameters; `load_prior` returns each
tensor's stored dtype so that the exporter can keep fp16 weights fp16.
"""
import sys
from typing import Dict

import torch
import torch.nn as nn

from .hparams import VQVAE_KINDS
from .vqvae import VQVAE


class CheckpointMismatch(RuntimeError):
    pass


def read_checkpoint(path: str) -> dict:
    """{'model': state dict, ...}: an official checkpoint, or a bare state dict wrapped so."""
    ckpt = torch.load(path, map_location='cpu')
    if not isinstance(ckpt, dict):
        raise CheckpointMismatch(f'{path}: no state dict (expected a dict with a "model" entry)')
    return ckpt if 'model' in ckpt else {'model': ckpt}


def state_dict_of(ckpt: dict) -> Dict[str, torch.Tensor]:
    # The official restore strips the DistributedDataParallel prefix too.
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in ckpt['model'].items()}


def load_state(module: nn.Module, state: Dict[str, torch.Tensor], source: str = 'checkpoint') -> Dict[str, torch.dtype]:
    """Copies `state` into `module` tensor by tensor (upcasting fp16 to the parameter's float32).

    Fails on the first tensor whose shape differs (naming it and both shapes), then on missing or
    unexpected keys. Returns the checkpoint dtype of every tensor (to keep fp16 weights fp16 at export).
    """
    # Tied weights appear once among named_parameters but under every name in a state dict.
    own_sd = module.state_dict(keep_vars=True)
    for name, tensor in state.items():
        if name in own_sd and tuple(own_sd[name].shape) != tuple(tensor.shape):
            raise CheckpointMismatch(f'{source}: tensor {name} has shape {tuple(tensor.shape)} in the checkpoint '
                                     f'but {tuple(own_sd[name].shape)} in the model')
    missing = [k for k in own_sd if k not in state]
    unexpected = [k for k in state if k not in own_sd]
    if missing or unexpected:
        raise CheckpointMismatch(f'{source}: missing keys {missing[:20]}{" ..." if len(missing) > 20 else ""}; '
                                 f'unexpected keys {unexpected[:20]}{" ..." if len(unexpected) > 20 else ""}')
    dtypes = {}
    with torch.no_grad():
        for name, target in own_sd.items():
            src = state[name]
            dtypes[name] = src.dtype
            target.copy_(src.to(target.dtype))
    return dtypes


def load_prior(prior: nn.Module, path: str) -> Dict[str, torch.dtype]:
    """An official prior checkpoint -> a SimplePrior built from the matching hps; returns the stored dtypes."""
    dtypes = load_state(prior, state_dict_of(read_checkpoint(path)), path)
    prior.eval()
    return dtypes


def load_vqvae(path: str, hps: dict) -> VQVAE:
    """An official VQ-VAE checkpoint -> our VQVAE of `hps` (official VQ-VAE names). As the official make_vqvae,
    the checkpoint's stored 'hps' (its training settings) are not used; where they differ from `hps` on a name
    the VQ-VAE reads, a warning says so, since such a difference need not change any shape."""
    ckpt = read_checkpoint(path)
    model = VQVAE(hps)
    stored = ckpt.get('hps') or {}
    norm = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731  (official hps hold tuples)
    differ = sorted(k for k, v in stored.items()
                    if k in VQVAE_KINDS and k != 'sr' and norm(v) != norm(model.hps[k]))
    if differ:
        print(f'{path}: the checkpoint\'s stored hps differ from the given ones on {", ".join(differ)}; '
              'using the given ones', file=sys.stderr)
    load_state(model, state_dict_of(ckpt), path)
    return model.eval()
