"""Import the official openai/jukebox code on a CPU-only machine, for equality checks (tools/check_official.py,
tools/official_labels_fixture.py).

    from official_code import import_official, official_hps
    J = import_official('/tmp/jukebox-src')        # a checkout of openai/jukebox (or its jukebox/ dir)
    vqvae = J.make_vqvae(official_hps(J, 'vqvae', dict(sample_length=...)), device='cpu')
    vqvae.load_state_dict(ours.state_dict())       # weights of our port (jukebox_model.init.random_vqvae)

The checkout itself is never modified: it is copied to a scratch directory, where the
`device='cuda'` literals are rewritten to 'cpu'. At import time `Tensor.cuda` / `Module.cuda`
become no-ops, `torch.distributed.is_available()` returns False, `torch.cuda.LongTensor` etc.
are aliased to the CPU tensor types, and stub `librosa` / `av` modules are installed when the
real ones are missing (the model code does not use them). None of the official code is copied
into this repository. Needs Debian's python3-tqdm, python3-unidecode, python3-soundfile and
python3-fire besides torch.
"""
import atexit
import os
import re
import shutil
import sys
import tempfile
import types
from typing import Optional

import torch

_CACHE = {}


def _find_package_dir(src_path: str) -> str:
    """The directory that holds the `jukebox` package (accepts the repo root or the package dir)."""
    src_path = os.path.abspath(src_path)
    if os.path.isfile(os.path.join(src_path, 'jukebox', 'hparams.py')):
        return src_path
    if os.path.isfile(os.path.join(src_path, 'hparams.py')) and os.path.basename(src_path) == 'jukebox':
        return os.path.dirname(src_path)
    raise FileNotFoundError(f'{src_path} is not a checkout of openai/jukebox (no jukebox/hparams.py)')


_CUDA_LITERAL = re.compile(r"""(['"])cuda\1""")


def _patch_tree(root: str) -> int:
    """Rewrites 'cuda' string literals (device='cuda', .to('cuda', ...)) to 'cpu'. Returns files changed."""
    changed = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding='utf-8') as f:
                text = f.read()
            new = _CUDA_LITERAL.sub("'cpu'", text)
            if new != text:
                with open(path, 'w', encoding='utf-8') as f:
                    f.write(new)
                changed += 1
    return changed


def _install_runtime_patches() -> None:
    if getattr(torch, '_jukebox_cpu_patched', False):
        return
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    torch.distributed.is_available = lambda: False
    torch.cuda.LongTensor = torch.LongTensor
    torch.cuda.FloatTensor = torch.FloatTensor
    torch.cuda.HalfTensor = torch.HalfTensor
    torch._jukebox_cpu_patched = True
    for name in ('librosa', 'av'):
        try:
            __import__(name)
        except Exception:
            stub = types.ModuleType(name)
            stub.__jukebox_stub__ = True

            def _missing(*a, _name=name, **k):
                raise RuntimeError(f'{_name} is a stub in official_code (not needed for model code)')

            stub.load = _missing
            stub.open = _missing
            stub.util = types.SimpleNamespace(find_files=_missing)
            stub.core = types.SimpleNamespace(stft=_missing)
            sys.modules[name] = stub


def import_official(src_path: Optional[str] = None) -> types.SimpleNamespace:
    """Makes the official `jukebox` package importable (patched scratch copy) and imports it.

    Returns a namespace with: setup_hparams, Hyperparams, make_vqvae, make_prior, VQVAE, SimplePrior,
    Transformer, ConditionalAutoregressive2D, the modules (hparams, make_models, vqvae, encdec, resnet,
    bottleneck, prior, autoregressive, conditioners, transformer, factored_attention, ops) and
    `scratch_dir`. Idempotent per src_path. Only one checkout can be imported per process.
    """
    src_path = src_path or os.environ.get('JUKEBOX_SRC')
    if not src_path:
        raise RuntimeError('set JUKEBOX_SRC (or pass src_path) to a checkout of openai/jukebox')
    root = _find_package_dir(src_path)
    if root in _CACHE:
        return _CACHE[root]
    if _CACHE:
        raise RuntimeError('another jukebox checkout is already imported in this process')
    if 'jukebox' in sys.modules and not _CACHE:
        raise RuntimeError('a module named jukebox is already imported; import_official must run first')

    scratch = tempfile.mkdtemp(prefix='jukebox-official-')
    atexit.register(shutil.rmtree, scratch, True)
    shutil.copytree(os.path.join(root, 'jukebox'), os.path.join(scratch, 'jukebox'),
                    ignore=shutil.ignore_patterns('*.pyc', '__pycache__', '*.ipynb'))
    n_patched = _patch_tree(os.path.join(scratch, 'jukebox'))

    _install_runtime_patches()
    sys.path.insert(0, scratch)
    import importlib
    import warnings
    mods = {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', SyntaxWarning)  # `is not ''` in remote_utils.py
        importlib.import_module('jukebox.utils.remote_utils')
    for key, name in [('hparams', 'jukebox.hparams'), ('make_models', 'jukebox.make_models'),
                      ('vqvae', 'jukebox.vqvae.vqvae'), ('encdec', 'jukebox.vqvae.encdec'),
                      ('resnet', 'jukebox.vqvae.resnet'), ('bottleneck', 'jukebox.vqvae.bottleneck'),
                      ('prior', 'jukebox.prior.prior'), ('autoregressive', 'jukebox.prior.autoregressive'),
                      ('conditioners', 'jukebox.prior.conditioners'),
                      ('transformer', 'jukebox.transformer.transformer'),
                      ('factored_attention', 'jukebox.transformer.factored_attention'),
                      ('ops', 'jukebox.transformer.ops')]:
        mods[key] = importlib.import_module(name)
    def _no_download(remote_path, local_path, *a, **k):
        raise RuntimeError(f'official_code: refusing to download {remote_path}; pass restore_vqvae/restore_prior '
                           "'' (official_hps does) or a local checkpoint path")
    mods['make_models'].download = _no_download
    ns = types.SimpleNamespace(
        scratch_dir=scratch, files_patched=n_patched,
        setup_hparams=mods['hparams'].setup_hparams, Hyperparams=mods['hparams'].Hyperparams,
        HPARAMS_REGISTRY=mods['hparams'].HPARAMS_REGISTRY, DEFAULTS=getattr(mods['hparams'], 'DEFAULTS', None),
        make_vqvae=mods['make_models'].make_vqvae, make_prior=mods['make_models'].make_prior,
        VQVAE=mods['vqvae'].VQVAE, SimplePrior=mods['prior'].SimplePrior,
        ConditionalAutoregressive2D=mods['autoregressive'].ConditionalAutoregressive2D,
        Transformer=mods['transformer'].Transformer,
        **mods)
    _CACHE[root] = ns
    return ns


def official_hps(J, name_or_names, overrides: Optional[dict] = None):
    """setup_hparams with CPU-friendly defaults (fp16_params False, train False)."""
    kw = dict(fp16_params=False, train=False, restore_vqvae='', restore_prior='')
    kw.update(overrides or {})
    return J.setup_hparams(name_or_names, kw)


if __name__ == '__main__':  # smoke test: build small official models
    import time
    J = import_official(sys.argv[1] if len(sys.argv) > 1 else None)
    t0 = time.time()
    hps = official_hps(J, 'vqvae', dict(sample_length=4096, levels=3, downs_t=(3, 2, 2), strides_t=(2, 2, 2),
                                         emb_width=16, l_bins=64, width=8, depth=2, hvqvae_multipliers=(2, 1, 1)))
    vq = J.make_vqvae(hps, 'cpu')
    print('vqvae built', sum(p.numel() for p in vq.parameters()), 'params', f'{time.time() - t0:.2f}s')
    for preset in ('prior_5b', 'prior_5b_lyrics', 'prior_1b_lyrics', 'upsampler_level_1'):
        t0 = time.time()
        small = dict(n_ctx=64, prior_width=32, prior_depth=3, heads=1, blocks=8, y_bins=(12, 20), t_bins=16,
                     cond_width=16, cond_depth=2, restore_prior='')
        if 'lyrics' in preset:
            small.update(n_tokens=16, prime_width=32, prime_depth=2, prime_blocks=4, alignment_layer=None,
                         alignment_head=None)
        level = official_hps(J, preset)['level']
        v = J.make_vqvae(official_hps(J, 'vqvae', dict(
            sample_length=64 * [8, 32, 128][level], levels=3, downs_t=(3, 2, 2), strides_t=(2, 2, 2), emb_width=16,
            l_bins=64, width=8, depth=2, hvqvae_multipliers=(2, 1, 1))), 'cpu')
        prior = J.make_prior(official_hps(J, preset, small), v, 'cpu')
        print(preset, 'built', sum(p.numel() for p in prior.parameters()), 'params', f'{time.time() - t0:.2f}s')
