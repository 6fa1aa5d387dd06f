"""Loading the official checkpoints (`*.pth.tar`, state dict under 'model') into our modules."""
from typing import Dict, Optional

import torch
import torch.nn as nn


class CheckpointMismatch(RuntimeError):
    pass


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    ckpt = torch.load(path, map_location='cpu')
    if isinstance(ckpt, dict) and 'model' in ckpt:
        ckpt = ckpt['model']
    if not isinstance(ckpt, dict):
        raise CheckpointMismatch(f'{path}: no state dict (expected a dict with a "model" entry)')
    # A checkpoint saved from a DistributedDataParallel wrapper prefixes every key (the official restore strips it).
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in ckpt.items()}


def load_state(module: nn.Module, state: Dict[str, torch.Tensor], source: str = 'checkpoint') -> Dict[str, torch.dtype]:
    """Copies `state` into `module` tensor by tensor (upcasting fp16 to the parameter's float32).

    Fails on the first tensor whose shape differs (naming it and both shapes), then on missing or
    unexpected keys. Returns the checkpoint dtype of every tensor (to keep fp16 weights fp16 at export).
    """
    own = dict(module.named_parameters())
    own.update(dict(module.named_buffers()))
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


def load_official(prior: nn.Module, path: str) -> Dict[str, torch.dtype]:
    """Loads an official prior checkpoint into a SimplePrior built from the matching preset."""
    dtypes = load_state(prior, read_state_dict(path), path)
    prior.checkpoint_dtypes = dtypes
    prior.eval()
    return dtypes
