"""ONNX export of the prior family into the model folder of docs/model-contract.md.

- `export_level(prior, ...)`: levelL.conditioner.onnx and levelL.step.onnx of one SimplePrior (and levelL.loop.onnx,
  and with `fp16` the half-precision set levelL.*.fp16.onnx made by fp16.convert_to_fp16);
- `write_model_folder(...)`: every level, the VQ-VAE graphs (through a callback) and manifest.json
  with the sha256 of every file.

Graphs larger than `external_threshold` bytes keep their weights in an ONNX external data file
(`<graph>.onnx.data`, listed in the manifest next to the graph). Weights that came as fp16 from a
checkpoint (`fp16_params` priors) stay fp16 in the file and are cast to float32 inside the graph,
so every graph input and output of the float32 set is float32 (or int64).
"""
import hashlib
import io
import json
import os
import random
import tempfile
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import torch
import torch.nn as nn

from .fp16 import convert_to_fp16
from .loop_graph import loop_model
from .prior import SimplePrior
from .simplify import static_reshapes

TWO_GB = 2 ** 31 - 2 ** 24  # protobuf's limit, with headroom


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 24), b''):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------
# Graph wrappers (the contract's inputs and outputs)


class ConditionerGraph(nn.Module):
    """labels [, upper_tokens] -> y_cond, x_cond [, encoder_kv, encoder_key_i, encoder_value_i ...]."""

    def __init__(self, prior: SimplePrior):
        super().__init__()
        self.prior = prior

    def forward(self, labels: torch.Tensor, upper_tokens: Optional[torch.Tensor] = None):
        y_cond, x_cond, encoder_kv = self.prior.get_cond(labels, upper_tokens)
        if encoder_kv is None:
            return y_cond, x_cond
        out = [y_cond, x_cond, encoder_kv]
        for i, (k, v) in self.prior.prior.transformer.project_encoder_kv(encoder_kv).items():
            out.extend([k, v])
        return tuple(out)


class StepGraph(nn.Module):
    """tokens, position, x_cond, y_cond [, encoder_key_i, encoder_value_i ...], past_key_i, past_value_i ...
    -> logits, present_key_i, present_value_i ... (encoder_kv is added as an unused input afterwards)."""

    def __init__(self, prior: SimplePrior):
        super().__init__()
        self.prior = prior
        self.cross = prior.cross_layers

    def forward(self, tokens, position, x_cond, y_cond, *rest):
        rest = list(rest)
        enc = {}
        for i in self.cross:
            enc[i] = (rest.pop(0), rest.pop(0))
        past = [(rest[2 * i], rest[2 * i + 1]) for i in range(len(rest) // 2)]
        logits, presents = self.prior.prior.step(tokens, position, x_cond, y_cond, enc or None, past)
        out = [logits]
        for k, v in presents:
            out.extend([k, v])
        return tuple(out)


# ----------------------------------------------------------------------------------------------
# Export helpers


def _param_bytes(module: nn.Module) -> int:
    return sum(p.numel() * 4 for p in module.parameters())


def trace_to_onnx(module: nn.Module, args: tuple, input_names: List[str], output_names: List[str],
                  dynamic_axes: Dict[str, Dict[int, str]], opset: int) -> onnx.ModelProto:
    """torch.onnx.export, then checks the names and declares every output's shape as the contract
    states it: the named dynamic axes, fixed sizes elsewhere."""
    big = _param_bytes(module) > TWO_GB
    with torch.no_grad(), tempfile.TemporaryDirectory() as tmp:
        kwargs = dict(input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
                      opset_version=opset, do_constant_folding=True, export_params=True,
                      keep_initializers_as_inputs=False)
        if big:  # torch writes external data next to a file path
            path = os.path.join(tmp, 'graph.onnx')
            torch.onnx.export(module, args, path, **kwargs)
            model = onnx.load(path, load_external_data=True)
        else:
            buf = io.BytesIO()
            torch.onnx.export(module, args, buf, **kwargs)
            model = onnx.load_from_string(buf.getvalue())
    got_in = [i.name for i in model.graph.input]
    got_out = [o.name for o in model.graph.output]
    if got_in != input_names or got_out != output_names:
        raise RuntimeError(f'exported graph has inputs {got_in} / outputs {got_out}, '
                           f'expected {input_names} / {output_names}')
    with torch.no_grad():
        example = module(*args)
    example = example if isinstance(example, tuple) else (example,)
    for value, tensor in zip(model.graph.output, example):
        dims = value.type.tensor_type.shape.dim
        assert len(dims) == tensor.dim(), value.name
        named = dynamic_axes.get(value.name, {})
        for axis, dim in enumerate(dims):
            if axis in named:
                dim.dim_param = named[axis]
            else:
                dim.dim_value = tensor.shape[axis]
    return model


def add_unused_input(model: onnx.ModelProto, name: str, dims: List, after: str) -> None:
    """Declares a float input the graph does not read (kept for hosts that feed it by contract)."""
    vi = helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)
    names = [i.name for i in model.graph.input]
    idx = names.index(after) + 1
    model.graph.input.insert(idx, vi)


def keep_fp16_weights(model: onnx.ModelProto, min_elements: int = 1024) -> int:
    """Stores float32 initializers whose values are exactly fp16 values (weights loaded from an fp16
    checkpoint) as fp16, with a Cast to float32 at the start of the graph. Returns how many."""
    g = model.graph
    new_inits, casts, count = [], [], 0
    for init in g.initializer:
        if init.data_type != TensorProto.FLOAT:
            new_inits.append(init)
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < min_elements:
            new_inits.append(init)
            continue
        half = arr.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), arr):
            new_inits.append(init)
            continue
        h = numpy_helper.from_array(half, init.name + '__fp16')
        new_inits.append(h)
        casts.append(helper.make_node('Cast', [h.name], [init.name], to=TensorProto.FLOAT,
                                      name=init.name + '__cast'))
        count += 1
    del g.initializer[:]
    g.initializer.extend(new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    return count


def save_graph(model: onnx.ModelProto, out_dir: str, name: str, external_threshold: int) -> List[str]:
    """Writes out_dir/name (and out_dir/name.data when the graph is larger than external_threshold).
    Returns the files written."""
    path = os.path.join(out_dir, name)
    size = sum(len(i.raw_data) for i in model.graph.initializer)
    if size > external_threshold:
        data_name = name + '.data'
        if os.path.exists(os.path.join(out_dir, data_name)):
            os.remove(os.path.join(out_dir, data_name))
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data_name, size_threshold=1024)
        onnx.checker.check_model(path)
        return [name, data_name]
    onnx.checker.check_model(model)
    with open(path, 'wb') as f:
        f.write(model.SerializeToString())
    return [name]


# ----------------------------------------------------------------------------------------------
# Example inputs


def encode_lyrics(text: str, vocab: str, n: int) -> List[int]:
    ids = [vocab.index(c) + 1 for c in text if c in vocab][-n:]
    return [0] * (n - len(ids)) + ids


def example_labels(prior: SimplePrior, hop: int, top_hop: int, b: int, rng: random.Random,
                   lyric_text: Optional[List[str]] = None, vocab: str = '') -> torch.Tensor:
    """Label rows as the host builds them: [total_length, offset, sample_length, artist, genres..., lyrics...]
    for a song inside the timing ranges and a window inside it."""
    sr = prior.hps['sr']
    min_d = prior.hps['min_duration'] or 1.0
    max_d = prior.hps['max_duration'] or 600.0
    lo = int(min_d * sr) // top_hop + 1
    lo = max(lo, prior.n_ctx * hop // top_hop + 1)
    hi = min(int(max_d * sr) // top_hop - 1, lo + 20000)
    rows = []
    n_genres, n_artists = prior.y_bins
    for r in range(b):
        total = top_hop * rng.randrange(lo, hi)
        offset = hop * rng.randrange(0, max(1, total // hop - prior.n_ctx))
        n_genre = rng.randrange(0, prior.max_bow_genre_size + 1)
        genres = [rng.randrange(0, n_genres) for _ in range(n_genre)] + [-1] * (prior.max_bow_genre_size - n_genre)
        row = [total, offset, prior.n_ctx * hop, rng.randrange(0, n_artists)] + genres
        if prior.n_tokens > 0:
            if lyric_text and vocab:
                row += encode_lyrics(lyric_text[r % len(lyric_text)], vocab, prior.n_tokens)
            else:
                row += [rng.randrange(0, prior.n_vocab) for _ in range(prior.n_tokens)]
        rows.append(row)
    return torch.tensor(rows, dtype=torch.int64)


# ----------------------------------------------------------------------------------------------
# Graphs of one level


def conditioner_model(prior: SimplePrior, hop: int, top_hop: int, opset: int) -> onnx.ModelProto:
    b = 2
    labels = example_labels(prior, hop, top_hop, b, random.Random(0))
    inputs = ['labels']
    args: Tuple = (labels,)
    axes = {'labels': {0: 'B'}, 'y_cond': {0: 'B'}, 'x_cond': {0: 'B'}}
    if prior.x_cond:
        upper = torch.randint(0, prior.bins, (b, prior.n_ctx // prior.cond_downsample),
                              generator=torch.Generator().manual_seed(0))
        args = (labels, upper)
        inputs.append('upper_tokens')
        axes['upper_tokens'] = {0: 'B'}
    outputs = ['y_cond', 'x_cond']
    if prior.lyrics_kind == 'encoder':
        outputs.append('encoder_kv')
        axes['encoder_kv'] = {0: 'B'}
        for i in prior.cross_layers:
            for kind in ('key', 'value'):
                outputs.append(f'encoder_{kind}_{i}')
                axes[f'encoder_{kind}_{i}'] = {0: 'B'}
    return trace_to_onnx(ConditionerGraph(prior), args, inputs, outputs, axes, opset)


def step_model(prior: SimplePrior, opset: int) -> onnx.ModelProto:
    tf = prior.prior.transformer
    b, t = 2, 3
    # An example position where the cache lengths of the kinds differ (row < previous row < dense/column),
    # so a length the tracer froze would show as a wrong shape at other positions.
    p = 2 * tf.block_ctx + 5 if tf.block_ctx and 2 * tf.block_ctx + 5 + t <= prior.seq_len else 5
    g = torch.Generator().manual_seed(0)
    w, h, dh = prior.width, prior.heads, prior.head_dim
    args: List[torch.Tensor] = [
        torch.randint(0, prior.out_bins, (b, t), generator=g),
        torch.tensor([p], dtype=torch.int64),
        torch.randn(b, t, w, generator=g),
        torch.randn(b, w, generator=g),
    ]
    inputs = ['tokens', 'position', 'x_cond', 'y_cond']
    axes = {'tokens': {0: 'B', 1: 'T'}, 'x_cond': {0: 'B', 1: 'T'}, 'y_cond': {0: 'B'}, 'logits': {0: 'B'}}
    for i in prior.cross_layers:
        for kind in ('key', 'value'):
            args.append(torch.randn(b, h, prior.n_tokens, dh, generator=g))
            inputs.append(f'encoder_{kind}_{i}')
            axes[f'encoder_{kind}_{i}'] = {0: 'B'}
    outputs = ['logits']
    for i, f in enumerate(tf.attn_funcs):
        lo, hi = tf.cache_range(f, p)  # layer i's cache before the query at p (see the KV cache layout)
        for kind in ('key', 'value'):
            args.append(torch.randn(b, h, hi - lo, dh, generator=g))
            inputs.append(f'past_{kind}_{i}')
            outputs.append(f'present_{kind}_{i}')
            axes[f'past_{kind}_{i}'] = {0: 'B', 2: f'P_{i}'}
            axes[f'present_{kind}_{i}'] = {0: 'B', 2: f'Pnext_{i}'}
    model = trace_to_onnx(StepGraph(prior), tuple(args), inputs, outputs, axes, opset)
    if prior.lyrics_kind == 'encoder':
        # The contract (version 1) lists encoder_kv among the step inputs; the graph reads the projected
        # per-layer keys/values instead, so encoder_kv is declared but unused.
        add_unused_input(model, 'encoder_kv', ['B', prior.n_tokens, w], 'y_cond')
    return model


def export_level(prior: SimplePrior, out_dir: str, hop: int, top_hop: int, opset: int,
                 fp16_weights: bool = False, external_threshold: int = TWO_GB, log=print,
                 loop: bool = False, fp16: bool = False) -> Dict[str, object]:
    """Writes levelL.conditioner.onnx and levelL.step.onnx (and levelL.loop.onnx, contract version 2, when `loop`);
    with `fp16` also their float16 versions levelL.<kind>.fp16.onnx (`logits` stays float32, the cache, x_cond,
    y_cond and encoder keys are float16). Returns {'conditioner': files, 'step': files[, 'loop': files]
    [, 'fp16': {kind: files}]}."""
    out: Dict[str, object] = {}
    half_files: Dict[str, List[str]] = {}

    def save_half(kind: str, model: onnx.ModelProto) -> None:
        if fp16:
            half = convert_to_fp16(model, set(), {'logits'} if kind == 'step' else set())
            half_files[kind] = save_graph(half, out_dir, f'level{prior.level}.{kind}.fp16.onnx', external_threshold)
            log(f'level {prior.level} {kind}: fp16 graph ({next(p.value for p in half.metadata_props if p.key == "fp16")})')

    for kind, make in (('conditioner', lambda: conditioner_model(prior, hop, top_hop, opset)),
                       ('step', lambda: step_model(prior, opset))):
        model = make()
        if kind == 'step':
            static_reshapes(model)
        if fp16_weights:
            n = keep_fp16_weights(model)
            log(f'level {prior.level} {kind}: {n} fp16 weight tensors kept in fp16')
        # The float16 version and the loop graph are made from the float32 graph before it is saved: saving with
        # external data empties the initializers in memory. One derived graph at a time, to bound the memory.
        save_half(kind, model)
        fused = loop_model(model, prior.out_bins) if kind == 'step' and loop else None
        out[kind] = save_graph(model, out_dir, f'level{prior.level}.{kind}.onnx', external_threshold)
        if fused is not None:
            save_half('loop', fused)
            out['loop'] = save_graph(fused, out_dir, f'level{prior.level}.loop.onnx', external_threshold)
    if half_files:
        out['fp16'] = half_files
    return out


def level_manifest(prior: SimplePrior, hop: int, hop_fraction: float, prefill_chunk: int,
                   files: Dict[str, object], out_dir: str, sampling_chunk: int = 64) -> dict:
    def graph(kind, where=files):
        names = where[kind]
        entry = {'file': names[0], 'sha256': sha256_file(os.path.join(out_dir, names[0]))}
        if len(names) > 1:
            entry['externalData'] = [{'file': n, 'sha256': sha256_file(os.path.join(out_dir, n))} for n in names[1:]]
        return entry

    entry = {
        'level': prior.level,
        'hopLength': hop,
        'nCtx': prior.n_ctx,
        'hopFraction': hop_fraction,
        'codebookSize': prior.bins,
        'width': prior.width,
        'layers': prior.depth,
        'heads': prior.heads,
        'headDim': prior.head_dim,
        'prefillChunk': prefill_chunk,
        'conditioning': {
            'labels': True,
            'timing': prior.y_emb.include_time_signal,
            'lyrics': prior.lyrics_kind,
            'lyricTokens': prior.n_tokens,
            'upper': prior.x_cond,
        },
        'labelLength': prior.label_length,
        'vocabOffset': prior.vocab_offset,
        'graphs': {'conditioner': graph('conditioner'), 'step': graph('step')},
        'kvCache': prior.prior.transformer.kv_cache_manifest(),
    }
    if 'loop' in files:
        entry['graphs']['loop'] = graph('loop')
        entry['samplingChunk'] = sampling_chunk
    if 'fp16' in files:
        entry['graphs']['fp16'] = {kind: graph(kind, files['fp16']) for kind in files['fp16']}
    return entry


def hop_lengths(vq: dict) -> List[int]:
    out, hop = [], 1
    for d, s in zip(vq['downs_t'], vq['strides_t']):
        hop *= s ** d
        out.append(hop)
    return out


def write_model_folder(priors: List[SimplePrior], vq: dict, out_dir: str, *, model_id: str, sample_rate: int,
                       labels: dict, lyrics: Optional[dict], hop_fractions: List[float], prefill_chunk: int,
                       opset: int, export_vqvae: Callable[[str], dict], fp16_weights: bool = False,
                       external_threshold: int = TWO_GB, contract_version: int = 1, log=print,
                       level_labels: Optional[Dict[int, dict]] = None, sampling_chunk: int = 64,
                       fp16_graphs: bool = False) -> bytes:
    """Exports every level (index = level) and the VQ-VAE graphs, writes manifest.json; returns its bytes.

    labels: the manifest's `labels` object (the top prior's); lyrics: its `lyrics` object (or None);
    level_labels: a level's own `labels` where they differ from the top's (1b_lyrics: v2 upsamplers under a v3 top);
    fp16_graphs: also write each level's float16 graph set (manifest graphs.fp16);
    export_vqvae(out_dir) writes the VQ-VAE graphs and returns the manifest's `vqvae` object
    ({decoders, encoders})."""
    os.makedirs(out_dir, exist_ok=True)
    hops = hop_lengths(vq)
    levels = []
    for prior in sorted(priors, key=lambda p: p.level):
        log(f'exporting level {prior.level} ({sum(p.numel() for p in prior.parameters()) / 1e6:.2f} M parameters)')
        files = export_level(prior, out_dir, hops[prior.level], hops[-1], opset,
                             fp16_weights and prior.fp16_params, external_threshold, log, loop=contract_version >= 2,
                             fp16=fp16_graphs)
        entry = level_manifest(prior, hops[prior.level], hop_fractions[prior.level], prefill_chunk, files, out_dir,
                               sampling_chunk)
        if level_labels and prior.level in level_labels:
            entry['labels'] = level_labels[prior.level]
        levels.append(entry)
    vqvae = export_vqvae(out_dir)
    manifest = {
        'contractVersion': contract_version,
        'modelId': model_id,
        'sampleRate': sample_rate,
        'labels': labels,
    }
    if lyrics is not None and any(p.n_tokens > 0 for p in priors):
        manifest['lyrics'] = lyrics
    manifest['levels'] = levels
    manifest['vqvae'] = vqvae
    data = (json.dumps(manifest, indent=2, ensure_ascii=False) + '\n').encode('utf-8')
    with open(os.path.join(out_dir, 'manifest.json'), 'wb') as f:
        f.write(data)
    return data


# ----------------------------------------------------------------------------------------------
# PyTorch reference runs (shared by the fixture and the family checks)


def step_logits(prior: SimplePrior, labels, upper, seq: torch.Tensor, chunks: List[int]) -> List[torch.Tensor]:
    """Runs the cached step path over the sequence `seq` [B, N] in the given chunk sizes; returns each
    chunk's last logits."""
    y_cond, x_cond, enc_kv = prior.get_cond(labels, upper)
    enc = prior.prior.transformer.project_encoder_kv(enc_kv) if enc_kv is not None else None
    b = seq.shape[0]
    past = prior.prior.transformer.empty_cache(b)
    out = []
    pos = 0
    prev = torch.cat([torch.zeros(b, 1, dtype=torch.int64), seq[:, :-1]], dim=1)  # token before each position
    for t in chunks:
        logits, past = prior.prior.step(prev[:, pos:pos + t], torch.tensor([pos]), x_cond[:, pos:pos + t], y_cond,
                                        enc, past)
        out.append(logits)
        pos += t
    return out


def example_sequence(prior: SimplePrior, labels: torch.Tensor, n: int, rng: random.Random) -> torch.Tensor:
    """A window's input sequence of n positions: lyric prefix from the labels then music ids (shifted)."""
    b = labels.shape[0]
    music = torch.tensor([[rng.randrange(0, prior.bins) for _ in range(prior.n_ctx)] for _ in range(b)],
                         dtype=torch.int64)
    return prior.sequence(labels, music)[:, :n]


def self_check(prior: SimplePrior, labels, upper, seq, full: torch.Tensor, chunk: int = 16) -> Tuple[float, float]:
    """Token-by-token and chunked runs of the cached path against the whole-window forward; returns
    the worst relative errors (single, chunked)."""
    n = seq.shape[1]
    with torch.no_grad():
        singles = torch.stack(step_logits(prior, labels, upper, seq, [1] * n), dim=1)
        sizes = [chunk] * (n // chunk) + ([n % chunk] if n % chunk else [])
        chunked = step_logits(prior, labels, upper, seq, sizes)
    scale = float(full.abs().max())
    err1 = float((singles - full).abs().max()) / scale
    ends = np.cumsum(sizes) - 1
    err2 = max(float((c - full[:, e]).abs().max()) for c, e in zip(chunked, ends)) / scale
    return err1, err2
