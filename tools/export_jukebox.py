#!/usr/bin/env python3
"""Exports a Jukebox model (top prior + both upsamplers + VQ-VAE decoders) into the model folder of
docs/model-contract.md.

Official checkpoints:
    /usr/bin/python3 tools/export_jukebox.py --preset 5b_lyrics|5b|1b_lyrics --checkpoints DIR \\
        --ids JUKEBOX/data/ids --out models/NAME
  DIR holds the release layout (5b/prior_level_0.pth.tar, 5b/prior_level_1.pth.tar, 5b/vqvae.pth.tar,
  5b_lyrics/prior_level_2.pth.tar, 1b_lyrics/prior_level_2.pth.tar) or the files flat in one folder
  (prior_level_0.pth.tar ...; the top prior then as prior_level_2.pth.tar).

A random model of the official architecture (no checkpoints), or a configuration of your own with weights:
    /usr/bin/python3 tools/export_jukebox.py --hps FILE.json --random-seed N --ids DIR --out DIR
    /usr/bin/python3 tools/export_jukebox.py --hps FILE.json --checkpoints DIR --ids DIR --out DIR
  FILE.json: {"priors": [{official prior hps for level 0}, {level 1}, {level 2}], "vqvae": {...},
  "sr": 44100, "hop_fractions": [0.5, 0.5, 0.125]}; each prior entry may name a "preset" to start from,
  "vqvae" holds official VQ-VAE names over the `vqvae` preset (tools/configs/small-*.json are examples).
  The VQ-VAE is the official architecture (jukebox_model/vqvae_official.py), randomly initialised.
  With --checkpoints, each level loads the file of its entry's "preset" (as above; prior_level_L.pth.tar
  flat when it names none) and the VQ-VAE vqvae.pth.tar with the file's "vqvae" hps.

--ids: the official id files (v2_artist_ids.txt, v2_genre_ids.txt, v3_*); the lyric vocabulary is read
from the official text_processor.py next to that folder (--text-processor to give it elsewhere).
"""
import argparse
import ast
import json
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

DEFAULT_HOP_FRACTIONS = [0.5, 0.5, 0.125]  # sample.py's --hop_fraction, index = level


def read_ids(path: str) -> dict:
    """An official id file: lines `name;id` (several names may share an id); names are lowercased
    as the official ArtistGenreProcessor does."""
    ids = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            name, i = line.rsplit(';', 1)
            ids[name.lower()] = int(i)
    return ids


def read_vocab(text_processor: str, v3: bool) -> str:
    """The lyric vocabulary of the official TextProcessor (character i has id i + 1), read from its source."""
    with open(text_processor, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == 'vocab' for t in node.targets) \
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found.append((node.lineno, node.value.value))
    found.sort()
    if len(found) != 2:
        raise RuntimeError(f'{text_processor}: expected the v3 and v2 vocab strings, found {len(found)}')
    return found[0][1] if v3 else found[1][1]  # the source defines v3 first (if v3: ... else: ...)


def labels_manifest(ids_dir: str, v3: bool, hps: dict) -> dict:
    v = 'v3' if v3 else 'v2'
    artists = read_ids(os.path.join(ids_dir, f'{v}_artist_ids.txt'))
    genres = read_ids(os.path.join(ids_dir, f'{v}_genre_ids.txt'))
    genre_bins, artist_bins = hps['y_bins']
    if max(artists.values()) >= artist_bins or max(genres.values()) >= genre_bins:
        raise RuntimeError(f'{ids_dir}: ids exceed the model y_bins {hps["y_bins"]}')
    return {
        'version': v,
        'artists': artists,
        'genres': genres,
        'maxGenreWords': hps['max_bow_genre_size'],
        'minDurationSeconds': hps['min_duration'],
        'maxDurationSeconds': hps['max_duration'],
    }


def checkpoint_path(root: str, preset_name, level: int = 0) -> str:
    from jukebox_model.hparams import CHECKPOINTS
    rel = CHECKPOINTS.get(preset_name) or f'prior_level_{level}.pth.tar'
    for cand in (os.path.join(root, rel), os.path.join(root, os.path.basename(rel))):
        if os.path.exists(cand):
            return cand
    raise FileNotFoundError(f'{preset_name}: neither {os.path.join(root, rel)} nor '
                            f'{os.path.join(root, os.path.basename(rel))} exists')


def decoder_exporter(args, vq_spec, vqvae_ckpt, seed):
    """The VQ-VAE decoders, always of the official architecture (tools/jukebox_model/vqvae_official.py):
    loaded from the official checkpoint when there is one, else randomly initialised from `vq_spec`
    (official VQ-VAE hps: the `vqvae` preset, or the hps file's "vqvae"). A checkpoint is loaded now, so that
    a mismatch fails before any graph is written."""
    from jukebox_model import vqvae_official
    loaded = None
    if vqvae_ckpt:
        from jukebox_model.official import CheckpointMismatch
        print(f'VQ-VAE: loading {vqvae_ckpt}', file=sys.stderr)
        try:
            loaded = vqvae_official.load_official_checkpoint(vqvae_ckpt, vq_spec if args.hps else None)
        except ValueError as e:
            raise CheckpointMismatch(f'{vqvae_ckpt}: {e}') from e

    def export(out_dir):
        if loaded is not None:
            vqvae = loaded
        else:
            from jukebox_model.tiny import random_official_vqvae
            if args.checkpoints:
                print(f'VQ-VAE: no vqvae.pth.tar under {args.checkpoints}; exporting a random VQ-VAE',
                      file=sys.stderr)
            init = json.load(open(os.path.join(HERE, 'configs', 'tiny.json')))['init']
            vqvae = random_official_vqvae(vq_spec, seed, init)
            print(f'VQ-VAE: random official architecture (emb_width {vqvae.hps["emb_width"]}, '
                  f'l_bins {vqvae.l_bins}, width {vqvae.hps["width"]}, depth {vqvae.hps["depth"]})', file=sys.stderr)
        return vqvae_official.export_vqvae_decoders(vqvae, out_dir, args.opset)
    return export


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', choices=['5b', '5b_lyrics', '1b_lyrics'])
    ap.add_argument('--checkpoints', help='folder of the official *.pth.tar files')
    ap.add_argument('--hps', help='JSON file of official hyperparameters (random model)')
    ap.add_argument('--random-seed', type=int, help='export a randomly initialised model (no checkpoints)')
    ap.add_argument('--random-vqvae', action='store_true',
                    help='with --checkpoints: export a random VQ-VAE when vqvae.pth.tar is missing (else an error)')
    ap.add_argument('--ids', required=True, help='folder of the official v2/v3 artist and genre id files')
    ap.add_argument('--text-processor', help='the official data/text_processor.py (default: next to --ids)')
    ap.add_argument('--out', required=True)
    ap.add_argument('--model-id')
    ap.add_argument('--sr', type=int, default=44100)
    ap.add_argument('--opset', type=int, default=17)
    ap.add_argument('--prefill-chunk', type=int, default=32)
    ap.add_argument('--contract-version', type=int, choices=[1, 2], default=2,
                    help='2 (default) adds each level\'s fused loop graph (levelL.loop.onnx); 1 writes step graphs only')
    ap.add_argument('--fp16-graphs', action=argparse.BooleanOptionalAction, default=True,
                    help='also write each level\'s float16 graph set (levelL.*.fp16.onnx, manifest graphs.fp16) for CUDA '
                         'workers (default on)')
    ap.add_argument('--sampling-chunk', type=int, default=64, help='tokens per run of the loop graph (manifest samplingChunk)')
    ap.add_argument('--max-chars', type=int, default=4096)
    ap.add_argument('--external-threshold', type=int, default=None,
                    help='bytes of weights above which a graph keeps them in an external data file (default 2 GB)')
    args = ap.parse_args()
    if bool(args.preset) == bool(args.hps):
        ap.error('give exactly one of --preset and --hps')
    if args.preset and not args.checkpoints and args.random_seed is None:
        ap.error('--preset needs --checkpoints (or --random-seed for random weights)')
    if args.hps and not args.checkpoints and args.random_seed is None:
        ap.error('--hps needs --random-seed (random weights) or --checkpoints')

    import torch
    from jukebox_model.export import TWO_GB, write_model_folder
    from jukebox_model.hparams import MODELS, load_presets, prior_hps, vqvae_hps
    from jukebox_model.init import randomise
    from jukebox_model.official import load_official
    from jukebox_model.prior import SimplePrior

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    warnings.filterwarnings('ignore', category=UserWarning, module='torch.onnx')

    hop_fractions = DEFAULT_HOP_FRACTIONS
    if args.preset:
        names = MODELS[args.preset]
        level_hps = [prior_hps(n, sr=args.sr) for n in names]
        vq = vqvae_hps()
        vq_spec = load_presets()['vqvae']
    else:
        with open(args.hps, encoding='utf-8') as f:
            spec = json.load(f)
        level_hps, names = [], []
        for p in spec['priors']:
            p = dict(p)
            base = p.pop('preset', None)
            p.setdefault('sr', spec.get('sr', args.sr))
            level_hps.append(prior_hps(base, **p) if base else prior_hps(p))
            names.append(base)  # which checkpoint file holds the level (--checkpoints)
        # The VQ-VAE: the official `vqvae` preset, with the names the file gives replaced.
        vq_spec = {**load_presets()['vqvae'], **spec.get('vqvae', {})}
        vq = vqvae_hps(vq_spec)
        hop_fractions = spec.get('hop_fractions', hop_fractions)
    order = sorted(range(len(level_hps)), key=lambda i: level_hps[i]['level'])
    level_hps, names = [level_hps[i] for i in order], [names[i] for i in order]
    assert [h['level'] for h in level_hps] == list(range(vq['levels'])), 'one prior per VQ-VAE level'

    priors = []
    for h, name in zip(level_hps, names):
        torch.manual_seed(args.random_seed or 0)
        prior = SimplePrior(h, vq)
        if args.random_seed is not None:
            init = json.load(open(os.path.join(HERE, 'configs', 'tiny.json')))['init']
            randomise(prior, init, torch.Generator().manual_seed(args.random_seed + h['level']))
            prior.eval()
        else:
            path = checkpoint_path(args.checkpoints, name, h['level'])
            print(f'level {h["level"]}: loading {path}', file=sys.stderr)
            dtypes = load_official(prior, path)
            # Weights stored fp16 (as the released 5b tops) stay fp16 in the graphs, whatever the hps say.
            prior.fp16_params = prior.fp16_params or any(d == torch.float16 for d in dtypes.values())
        priors.append(prior)

    top = level_hps[-1]
    v3 = bool(top['labels_v3'])
    ids_dir = args.ids
    labels = labels_manifest(ids_dir, v3, top)
    # A level labelled differently from the top (the 5b upsamplers under the v3 1b_lyrics top) carries its own.
    level_labels = {}
    for h in level_hps[:-1]:
        # Upsamplers take no timing: the song's duration range is the top prior's.
        own = labels_manifest(ids_dir, bool(h['labels_v3']), {**h, 'min_duration': top['min_duration'], 'max_duration': top['max_duration']})
        if own['version'] != labels['version'] or own['maxGenreWords'] != labels['maxGenreWords']:
            level_labels[h['level']] = own
    lyrics = None
    if any(p.n_tokens > 0 for p in priors):
        tp = args.text_processor or os.path.join(os.path.dirname(os.path.abspath(ids_dir)), 'text_processor.py')
        vocab = read_vocab(tp, v3)
        assert len(vocab) + 1 == top['n_vocab'], f'vocab of {len(vocab)} characters, model n_vocab {top["n_vocab"]}'
        lyrics = {'vocab': vocab, 'maxChars': args.max_chars}
    vqvae_ckpt = None
    if args.checkpoints:
        try:
            vqvae_ckpt = checkpoint_path(args.checkpoints, 'vqvae')
        except FileNotFoundError:
            # Real priors with a random VQ-VAE would render noise: only on request.
            if not args.random_vqvae:
                raise
            vqvae_ckpt = None
    model_id = args.model_id or os.path.basename(os.path.normpath(args.out))
    write_model_folder(
        priors, vq, args.out, model_id=model_id, sample_rate=top['sr'], labels=labels, lyrics=lyrics,
        hop_fractions=hop_fractions, prefill_chunk=args.prefill_chunk, opset=args.opset,
        export_decoders=decoder_exporter(args, vq_spec, vqvae_ckpt, args.random_seed or 0),
        fp16_weights=args.random_seed is None,
        external_threshold=args.external_threshold if args.external_threshold is not None else TWO_GB,
        log=lambda *a: print(*a, file=sys.stderr), level_labels=level_labels,
        contract_version=args.contract_version, sampling_chunk=args.sampling_chunk, fp16_graphs=args.fp16_graphs)
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f'wrote {args.out} ({total / 1e6:.1f} MB)')


if __name__ == '__main__':
    from jukebox_model.official import CheckpointMismatch
    try:
        main()
    except (CheckpointMismatch, FileNotFoundError) as e:
        sys.exit(f'export_jukebox: {e}')
