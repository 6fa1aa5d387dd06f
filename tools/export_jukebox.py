#!/usr/bin/env python3
"""Exports a Jukebox model (top prior + both upsamplers + VQ-VAE decoders and encoders) into the model folder of
docs/model-contract.md.

Official checkpoints:
    /usr/bin/python3 tools/export_jukebox.py --preset 5b_lyrics|5b|1b_lyrics --checkpoints DIR \\
        --ids JUKEBOX/data/ids --out models/NAME
  DIR holds the release layout (5b/prior_level_0.pth.tar, 5b/prior_level_1.pth.tar, 5b/vqvae.pth.tar,
  5b_lyrics/prior_level_2.pth.tar, 1b_lyrics/prior_level_2.pth.tar) or the files flat in one folder
  (prior_level_0.pth.tar ...; the top prior then as prior_level_2.pth.tar).

A configuration of your own (checkpoints of the official code, or random weights):
    /usr/bin/python3 tools/export_jukebox.py --hps FILE.json --checkpoints DIR --ids DIR --out DIR
    /usr/bin/python3 tools/export_jukebox.py --hps FILE.json --random-seed N --ids DIR --out DIR
  FILE.json names the official hyperparameters of the VQ-VAE and of each prior as the official code takes
  them, hparam set names (comma-joined) and overrides, as `setup_hparams(names, overrides)` resolves them:
    {"vqvae": {"hparams": "vqvae", "overrides": {"l_bins": 1024, ...}, "checkpoint": "logs/vq/checkpoint_step_N.pth.tar"},
     "priors": [{"hparams": "vqvae,small_upsampler,all_fp16,cpu_ema", "overrides": {"level": 0, "levels": 3, ...},
                 "checkpoint": "logs/up0/checkpoint_latest.pth.tar"}, {level 1}, {level 2}],
     "hop_fractions": [0.5, 0.5, 0.125]}
  (checkpoint paths relative to --checkpoints DIR; tools/configs/small-official-sets.json is an example).
  Names that change no graph (restore_*, training, data) are ignored, and listed on one stderr line; an unknown
  set or name, a value of the wrong kind, or one this port does not implement exits 1 naming it. The older form,
  official names over an optional "preset" per prior and over the `vqvae` set for "vqvae", with "sr" for all
  priors, still reads (tools/configs/small-*.json). See tools/README.md.

--ids: the official id files (v2_artist_ids.txt, v2_genre_ids.txt, v3_*); the lyric vocabulary is read from
the official text_processor.py next to that folder (--text-processor to give it elsewhere).
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
        from jukebox_model.hparams import HpsError
        raise HpsError(f'y_bins: the ids of {ids_dir} exceed the model\'s y_bins {hps["y_bins"]}')
    return {
        'version': v,
        'artists': artists,
        'genres': genres,
        'maxGenreWords': hps['max_bow_genre_size'],
        'minDurationSeconds': hps['min_duration'],
        'maxDurationSeconds': hps['max_duration'],
    }


def checkpoint_path(root: str, entry: dict, flat_name: str) -> str:
    """The checkpoint of an hps entry under `root`: the file its "checkpoint" names; else, for a released set,
    the release layout or that file flat in root; else `flat_name` (prior_level_L.pth.tar, vqvae.pth.tar)."""
    from jukebox_model.hparams import CHECKPOINTS
    if entry['checkpoint']:
        path = os.path.join(root, entry['checkpoint'])
        if not os.path.exists(path):
            raise FileNotFoundError(f'{entry["hparams"]}: the checkpoint {path} does not exist')
        return path
    rel = CHECKPOINTS.get(entry['hparams']) or flat_name
    for cand in (os.path.join(root, rel), os.path.join(root, os.path.basename(rel))):
        if os.path.exists(cand):
            return cand
    raise FileNotFoundError(f'{entry["hparams"] or flat_name}: neither {os.path.join(root, rel)} nor '
                            f'{os.path.join(root, os.path.basename(rel))} exists')


def random_init() -> dict:
    """The scales of random weights (--random-seed): those of the tiny model (configs/tiny.json "init")."""
    with open(os.path.join(HERE, 'configs', 'tiny.json'), encoding='utf-8') as f:
        return json.load(f)['init']


def vqvae_exporter(args, vq, vqvae_ckpt, seed):
    """The VQ-VAE decoders and encoders, always of the official architecture (tools/jukebox_model/vqvae.py) with
    the official VQ-VAE hps `vq`: loaded from the checkpoint when there is one, else random. A checkpoint is
    loaded now, so that a mismatch fails before any graph is written."""
    from jukebox_model.vqvae import export_vqvae_decoders, export_vqvae_encoders
    loaded = None
    if vqvae_ckpt:
        from jukebox_model.checkpoints import load_vqvae
        print(f'VQ-VAE: loading {vqvae_ckpt}', file=sys.stderr)
        loaded = load_vqvae(vqvae_ckpt, vq)

    def export(out_dir):
        if loaded is not None:
            vqvae = loaded
        else:
            from jukebox_model.init import random_vqvae
            if args.checkpoints:
                print(f'VQ-VAE: no VQ-VAE checkpoint under {args.checkpoints}; exporting a random VQ-VAE',
                      file=sys.stderr)
            vqvae = random_vqvae(vq, seed, random_init())
            print(f'VQ-VAE: random official architecture (emb_width {vqvae.hps["emb_width"]}, '
                  f'l_bins {vqvae.l_bins}, width {vqvae.hps["width"]}, depth {vqvae.hps["depth"]})', file=sys.stderr)
        return {'decoders': export_vqvae_decoders(vqvae, out_dir, args.opset),
                'encoders': export_vqvae_encoders(vqvae, out_dir, args.opset)}
    return export


def model_spec(args) -> dict:
    """The VQ-VAE and per-level prior hps of --preset or of the --hps file (hparams.read_model_spec)."""
    from jukebox_model.hparams import MODELS, HpsError, read_model_spec
    if args.preset:
        spec = {'vqvae': {'hparams': 'vqvae'},
                'priors': [{'hparams': name, 'overrides': {'sr': args.sr}} for name in MODELS[args.preset]]}
    else:
        try:
            with open(args.hps, encoding='utf-8') as f:
                spec = json.load(f)
        except json.JSONDecodeError as e:
            raise HpsError(f'{args.hps}: not JSON ({e})') from None
    try:
        return read_model_spec(spec, args.sr)
    except HpsError as e:
        raise HpsError(f'{args.hps or args.preset}: {e}') from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', choices=['5b', '5b_lyrics', '1b_lyrics'])
    ap.add_argument('--checkpoints', help='folder of the official *.pth.tar files')
    ap.add_argument('--hps', help='JSON file of official hyperparameters: hparam set names and overrides per '
                    'component (see tools/README.md)')
    ap.add_argument('--random-seed', type=int, help='export a randomly initialised model (no checkpoints)')
    ap.add_argument('--random-vqvae', action='store_true',
                    help='with --checkpoints: export a random VQ-VAE when vqvae.pth.tar is missing (else an error)')
    ap.add_argument('--ids', required=True, help='folder of the official v2/v3 artist and genre id files')
    ap.add_argument('--text-processor', help='the official data/text_processor.py (default: next to --ids)')
    ap.add_argument('--out', required=True)
    ap.add_argument('--model-id')
    ap.add_argument('--sr', type=int, default=44100, help='sample rate of --preset and of the older --hps form')
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

    # The hyperparameters first: a file that cannot be used fails before any model is built.
    from jukebox_model.hparams import HpsError, ignored_line
    spec = model_spec(args)
    if ignored_line(spec['ignored']):
        print(f'export_jukebox: {ignored_line(spec["ignored"])}', file=sys.stderr)
    vq, level_hps = spec['vqvae'], spec['priors']
    hop_fractions = spec['hop_fractions'] or DEFAULT_HOP_FRACTIONS

    import torch
    from jukebox_model.checkpoints import load_prior
    from jukebox_model.export import TWO_GB, write_model_folder
    from jukebox_model.init import random_prior
    from jukebox_model.prior import SimplePrior

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    warnings.filterwarnings('ignore', category=UserWarning, module='torch.onnx')

    priors = []
    for h, entry in zip(level_hps, spec['prior_entries']):
        if args.random_seed is not None:
            prior = random_prior(h, vq, args.random_seed, random_init())
        else:
            path = checkpoint_path(args.checkpoints, entry, f'prior_level_{h["level"]}.pth.tar')
            print(f'level {h["level"]}: loading {path}', file=sys.stderr)
            torch.manual_seed(0)
            prior = SimplePrior(h, vq)
            dtypes = load_prior(prior, path)
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
        if len(vocab) + 1 != top['n_vocab']:
            raise HpsError(f'n_vocab: the top prior has {top["n_vocab"]}, the vocabulary of {tp} {len(vocab)} '
                           'characters (n_vocab = characters + 1)')
        lyrics = {'vocab': vocab, 'maxChars': args.max_chars}
    vqvae_ckpt = None
    if args.checkpoints:
        try:
            vqvae_ckpt = checkpoint_path(args.checkpoints, spec['vqvae_entry'], 'vqvae.pth.tar')
        except FileNotFoundError:
            # Real priors with a random VQ-VAE would render noise: only on request.
            if not args.random_vqvae:
                raise
            vqvae_ckpt = None
    model_id = args.model_id or os.path.basename(os.path.normpath(args.out))
    write_model_folder(
        priors, vq, args.out, model_id=model_id, sample_rate=top['sr'], labels=labels, lyrics=lyrics,
        hop_fractions=hop_fractions, prefill_chunk=args.prefill_chunk, opset=args.opset,
        export_vqvae=vqvae_exporter(args, vq, vqvae_ckpt, args.random_seed or 0),
        fp16_weights=args.random_seed is None,
        external_threshold=args.external_threshold if args.external_threshold is not None else TWO_GB,
        log=lambda *a: print(*a, file=sys.stderr), level_labels=level_labels,
        contract_version=args.contract_version, sampling_chunk=args.sampling_chunk, fp16_graphs=args.fp16_graphs)
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f'wrote {args.out} ({total / 1e6:.1f} MB)')


if __name__ == '__main__':
    from jukebox_model.checkpoints import CheckpointMismatch
    from jukebox_model.hparams import HpsError
    try:
        main()
    except (HpsError, CheckpointMismatch, FileNotFoundError) as e:
        sys.exit(f'export_jukebox: {e}')
