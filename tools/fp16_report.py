#!/usr/bin/env python3
"""Float16 agreement report: converts the prior graphs to float16 (jukebox_model/fp16.py) and measures how far
their logits and tokens are from the float32 graphs' on identical inputs, with onnxruntime-node on the CPU (there
is no onnxruntime for Python here).

    /usr/bin/python3 tools/fp16_report.py [--work /tmp/fp16-report] [--reuse]

1. Exports the tiny model (make_tiny_model.py --no-fixture) and the small family exports (check_exported.py)
   under WORK (--reuse keeps existing exports).
2. Converts every levelL.conditioner / step / loop graph to float16 (step: `logits` stays float32), and writes
   the float16-emulated float32 variant (fp16.emulate_fp16_in_float32) beside it.
3. Builds a small Loop graph (a step-like body with a decomposed layer norm, an index computation and a float64
   in-graph sampler), converts it and checks the conversion's choices.
4. Writes one single-node float16 model per op type of the converted graphs (plus LayerNormalization and Softmax)
   to find which ops the CPU execution provider runs natively in float16 and which it upcasts to float32 (ORT's
   InsertCastTransformer, visible as InsertedPrecisionFreeCast nodes in the optimized model).
5. Runs WORK/runner.mts with `npx tsx` from the repository root. Per level, chains of conditioner and step graph:
   fp32, fp16 (the float16 graphs on the CPU), emu (emulated conditioner and step) and emuStep (float32
   conditioner outputs rounded to float16, emulated step); token by token over a whole window with the KV cache,
   on the reference tokens and on the tokens the float32 graphs sample (Jukebox's default temperature 0.99, the
   counter RNG), comparing the logits; chunked prefill; and the loop graphs sampling the window free-running
   with the same uniforms (first position where a row leaves the float32 loop graph's tokens).

Writes WORK/report.json, prints a summary and exits 1 if a run failed, a converted graph casts an initializer
or the Loop self-test's expectations fail.
"""
import argparse
import json
import os
import random
import subprocess
import sys
from typing import Dict, List

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from jukebox_model.fp16 import (DOUBLE, FLOAT, HALF, convert_to_fp16, emulate_fp16_in_float32,  # noqa: E402
                                 fp16_summary, value_types)

FAMILIES = ['5b', '5b_lyrics', '1b_lyrics', 'upsampler_level_1', 'upsampler_level_0']
SEED = 20240607


def graph_bytes(path: str) -> int:
    """The graph file plus its external data files."""
    d = os.path.dirname(path)
    total = os.path.getsize(path)
    m = onnx.load(path, load_external_data=False)
    seen = set()
    for init in m.graph.initializer:
        for e in init.external_data:
            if e.key == 'location' and e.value not in seen:
                seen.add(e.value)
                total += os.path.getsize(os.path.join(d, e.value))
    return total


# ----------------------------------------------------------------------------------------------
# Inputs


def tiny_case_inputs(manifest: dict, lm: dict, rng: random.Random) -> dict:
    """Two label rows (songs of 100 s and 140 s, a window inside each), upper-level tokens, random tokens."""
    labels = lm.get('labels') or manifest['labels']
    sr = manifest['sampleRate']
    levels = manifest['levels']
    top_hop = levels[-1]['hopLength']
    hop, n_ctx = lm['hopLength'], lm['nCtx']
    g = manifest['labels']['maxGenreWords']
    rows = []
    for r in range(2):
        total = int((100 + 40 * r) * sr)
        start = rng.randrange(0, total // hop - n_ctx)
        row = [total, start * hop, n_ctx * hop, rng.randrange(1, len(labels['artists'])),
               *[rng.randrange(1, len(labels['genres'])) for _ in range(2)], *[-1] * (g - 2)]
        row += [rng.randrange(1, len(manifest['lyrics']['vocab']) + 1) for _ in range(lm['conditioning']['lyricTokens'])]
        assert len(row) == lm['labelLength'] and total // top_hop > 0
        rows.append(row)
    upper = None
    if lm['conditioning']['upper']:
        up = levels[lm['level'] + 1]
        ratio = up['hopLength'] // hop
        upper = [[rng.randrange(0, up['codebookSize']) for _ in range(n_ctx // ratio)] for _ in range(2)]
    n = n_ctx + (lm['conditioning']['lyricTokens'] if lm['conditioning']['lyrics'] == 'prefix' else 0)
    tokens = [[rng.randrange(0, lm['codebookSize']) + lm['vocabOffset'] for _ in range(n)] for _ in range(2)]
    return {'labels': rows, 'upperTokens': upper, 'tokens': tokens, 'known': 0}


def known_positions(lm: dict) -> int:
    """Positions the host feeds rather than samples (the lyric prefix of prefix models)."""
    return lm['conditioning']['lyricTokens'] if lm['conditioning']['lyrics'] == 'prefix' else 0


# ----------------------------------------------------------------------------------------------
# Conversion of one level


def convert_level(src_dir: str, lm: dict, out_dir: str) -> Dict[str, dict]:
    """Writes levelL.{conditioner,step,loop}.{fp16,emu}.onnx; returns the paths and file facts."""
    os.makedirs(out_dir, exist_ok=True)
    facts = {}
    for kind in ('conditioner', 'step', 'loop'):
        if kind not in lm['graphs']:
            continue
        src = os.path.join(src_dir, lm['graphs'][kind]['file'])
        model = onnx.load(src)  # loads external data too
        m16 = convert_to_fp16(model, set(), {'logits'} if kind == 'step' else set())  # loop: no float outputs kept
        base = os.path.join(out_dir, f'level{lm["level"]}.{kind}')
        onnx.save(m16, base + '.fp16.onnx')
        onnx.save(emulate_fp16_in_float32(m16), base + '.emu.onnx')
        facts[kind] = {'fp32': src, 'fp16': base + '.fp16.onnx', 'emu': base + '.emu.onnx',
                       'bytesFp32': graph_bytes(src), 'bytesFp16': graph_bytes(base + '.fp16.onnx'),
                       **fp16_summary(m16)}
    return facts


def variants(f: dict) -> dict:
    c, s = f['conditioner'], f['step']
    v = {
        'fp32': {'cond': c['fp32'], 'step': s['fp32'], 'half': False, 'opt': 'all'},
        'fp16': {'cond': c['fp16'], 'step': s['fp16'], 'half': True, 'opt': 'all'},
        # ORT's graph optimisations may drop the rounding Cast pairs: none for the emulation.
        'emu': {'cond': c['emu'], 'step': s['emu'], 'half': False, 'opt': 'disabled'},
        'emuStep': {'cond': c['fp32'], 'step': s['emu'], 'half': False, 'opt': 'disabled', 'condFrom': 'fp32'},
    }
    if 'loop' in f:
        for k in ('fp32', 'fp16', 'emu'):
            v[k]['loop'] = f['loop'][k]
    return v


# ----------------------------------------------------------------------------------------------
# CPU op probes


def probe_models(graphs: List[str], out_dir: str) -> List[dict]:
    """One single-node model per op type that reads or writes float16 in the converted graphs (its first
    instance, same attributes and input types), plus LayerNormalization and Softmax in float16."""
    os.makedirs(out_dir, exist_ok=True)
    seen, probes = set(), []

    def add(node: onnx.NodeProto, types: Dict[str, int], where: str) -> None:
        ins = [helper.make_tensor_value_info(x, types[x], None) for x in node.input if x]
        outs = [helper.make_tensor_value_info(o, types.get(o, FLOAT), None) for o in node.output]
        g = helper.make_graph([node], 'probe', ins, outs)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])
        path = os.path.join(out_dir, f'{node.op_type}.onnx')
        onnx.save(m, path)
        probes.append({'op': node.op_type, 'file': path, 'from': where,
                       'inputTypes': [TensorProto.DataType.Name(types[x]) for x in node.input if x]})

    for path in graphs:
        m = onnx.load(path)
        types = value_types(m)['']
        for n in m.graph.node:
            if n.op_type in seen or n.op_type in ('Constant', 'Loop', 'Scan', 'If'):  # bodies read outer names
                continue
            if any(types.get(x) == HALF for x in list(n.input) + list(n.output) if x):
                seen.add(n.op_type)
                node = onnx.NodeProto()
                node.CopyFrom(n)
                add(node, types, os.path.basename(path))
    for op, attrs in (('LayerNormalization', {'axis': -1}), ('Softmax', {'axis': -1})):
        ins = ['x', 's', 'b'] if op == 'LayerNormalization' else ['x']
        add(helper.make_node(op, ins, ['y'], **attrs), {x: HALF for x in ins + ['y']}, 'blocked op, for reference')
    return probes


def read_probes(probes: List[dict]) -> List[dict]:
    """native: ORT ran the node as written; upcast: it wrapped the node in Casts to float32; failed: no session."""
    out = []
    for p in probes:
        r = {k: p[k] for k in ('op', 'from', 'inputTypes')}
        if not p.get('created'):
            r['cpu'] = 'failed: ' + p.get('error', '')
        else:
            opt = onnx.load(p['file'] + '.opt.onnx')
            inserted = [n for n in opt.graph.node if n.name.startswith('InsertedPrecisionFreeCast')]
            r['cpu'] = 'upcast to float32' if inserted else 'native float16'
        out.append(r)
    return out


# ----------------------------------------------------------------------------------------------
# The Loop self-test


def loop_model(b: int = 2, w: int = 16, v: int = 24) -> onnx.ModelProto:
    """A fused multi-token graph in miniature. Outer inputs tokens0 int64 [B], state0 float [B, W] (a KV-cache
    stand-in, loop-carried), uniforms float64 [N, B], temperature float64 [], n_steps int64 []. The body: embedding
    + position row (index arithmetic in float: floor(iter / 2)), a decomposed layer norm, two MatMuls, then a
    float64 sampler (softmax, cumsum, count of cdf < u). Outputs tokens_out [N, B] and logits_all [N, B, V]
    (scan outputs), state_final, token_final."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(0, 1, (v, w)).astype(np.float32), 'emb'),
        numpy_helper.from_array(rng.normal(0, 1, (8, w)).astype(np.float32), 'pos_emb'),
        numpy_helper.from_array(rng.normal(0, 0.3, (w, w)).astype(np.float32), 'w1'),
        numpy_helper.from_array(rng.normal(0, 0.5, (w, v)).astype(np.float32), 'w_out'),
        numpy_helper.from_array((1 + 0.1 * rng.normal(0, 1, w)).astype(np.float32), 'gamma'),
        numpy_helper.from_array((0.1 * rng.normal(0, 1, w)).astype(np.float32), 'beta'),
    ]
    f = lambda name, val: helper.make_node('Constant', [], [name], value=numpy_helper.from_array(np.array(val, np.float32), name))
    body_nodes = [
        helper.make_node('Gather', ['emb', 'tok'], ['e']),
        # index arithmetic in float (must stay float32): row = floor(iter / 2)
        helper.make_node('Cast', ['iter'], ['iter_f'], to=FLOAT),
        f('two_f', 2.0),
        helper.make_node('Div', ['iter_f', 'two_f'], ['half_it']),
        helper.make_node('Floor', ['half_it'], ['row_f']),
        helper.make_node('Cast', ['row_f'], ['row'], to=TensorProto.INT64),
        helper.make_node('Gather', ['pos_emb', 'row'], ['pe']),
        helper.make_node('Add', ['state', 'e'], ['x0']),
        helper.make_node('Add', ['x0', 'pe'], ['x']),
        # decomposed layer norm
        helper.make_node('ReduceMean', ['x'], ['mu'], axes=[-1]),
        helper.make_node('Sub', ['x', 'mu'], ['d']),
        f('p2', 2.0),
        helper.make_node('Pow', ['d', 'p2'], ['d2']),
        helper.make_node('ReduceMean', ['d2'], ['var'], axes=[-1]),
        f('eps', 1e-5),
        helper.make_node('Add', ['var', 'eps'], ['ve']),
        helper.make_node('Sqrt', ['ve'], ['sd']),
        helper.make_node('Div', ['d', 'sd'], ['xn']),
        helper.make_node('Mul', ['xn', 'gamma'], ['xg']),
        helper.make_node('Add', ['xg', 'beta'], ['y']),
        helper.make_node('MatMul', ['y', 'w1'], ['h']),
        helper.make_node('Add', ['state', 'h'], ['state_out']),
        helper.make_node('MatMul', ['h', 'w_out'], ['logits']),
        # float64 sampler
        helper.make_node('Cast', ['logits'], ['ld'], to=DOUBLE),
        helper.make_node('Div', ['ld', 'temperature'], ['ls']),
        helper.make_node('Softmax', ['ls'], ['prob'], axis=-1),
        helper.make_node('Constant', [], ['ax1'], value=numpy_helper.from_array(np.array(1, np.int64), 'ax1')),
        helper.make_node('CumSum', ['prob', 'ax1'], ['cdf']),
        helper.make_node('Gather', ['uniforms', 'iter'], ['u']),
        helper.make_node('Constant', [], ['ax1s'], value=numpy_helper.from_array(np.array([1], np.int64), 'ax1s')),
        helper.make_node('Unsqueeze', ['u', 'ax1s'], ['u2']),
        helper.make_node('Less', ['cdf', 'u2'], ['below']),
        helper.make_node('Cast', ['below'], ['below_i'], to=TensorProto.INT64),
        helper.make_node('ReduceSum', ['below_i', 'ax1s'], ['cnt'], keepdims=0),
        helper.make_node('Constant', [], ['vmax'], value=numpy_helper.from_array(np.array(v - 1, np.int64), 'vmax')),
        helper.make_node('Min', ['cnt', 'vmax'], ['tok_out']),
        helper.make_node('Identity', ['tok_out'], ['tok_scan']),
        helper.make_node('Identity', ['cond'], ['cond_out']),
    ]
    body = helper.make_graph(
        body_nodes, 'body',
        [helper.make_tensor_value_info('iter', TensorProto.INT64, []),
         helper.make_tensor_value_info('cond', TensorProto.BOOL, []),
         helper.make_tensor_value_info('tok', TensorProto.INT64, [b]),
         helper.make_tensor_value_info('state', FLOAT, [b, w])],
        [helper.make_tensor_value_info('cond_out', TensorProto.BOOL, []),
         helper.make_tensor_value_info('tok_out', TensorProto.INT64, [b]),
         helper.make_tensor_value_info('state_out', FLOAT, [b, w]),
         helper.make_tensor_value_info('tok_scan', TensorProto.INT64, [b]),
         helper.make_tensor_value_info('logits', FLOAT, [b, v])])
    true = numpy_helper.from_array(np.array(True), 'true')
    loop = helper.make_node('Loop', ['n_steps', 'true', 'tokens0', 'state0'],
                            ['token_final', 'state_final', 'tokens_out', 'logits_all'], body=body)
    graph = helper.make_graph(
        [loop], 'fused',
        [helper.make_tensor_value_info('tokens0', TensorProto.INT64, [b]),
         helper.make_tensor_value_info('state0', FLOAT, [b, w]),
         helper.make_tensor_value_info('uniforms', DOUBLE, ['N', b]),
         helper.make_tensor_value_info('temperature', DOUBLE, []),
         helper.make_tensor_value_info('n_steps', TensorProto.INT64, [])],
        [helper.make_tensor_value_info('token_final', TensorProto.INT64, [b]),
         helper.make_tensor_value_info('state_final', FLOAT, [b, w]),
         helper.make_tensor_value_info('tokens_out', TensorProto.INT64, ['N', b]),
         helper.make_tensor_value_info('logits_all', FLOAT, ['N', b, v])],
        inits + [true])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    onnx.checker.check_model(m, full_check=True)
    return m


def check_loop_conversion(m16: onnx.ModelProto) -> List[str]:
    """The conversion's choices on loop_model(); returns the failed expectations."""
    types = value_types(m16)
    loop_index = next(i for i, n in enumerate(m16.graph.node) if n.op_type == 'Loop')
    outer, body = types[''], types[f'/{loop_index}.0']
    body_graph = m16.graph.node[loop_index].attribute[0].g
    inits = {i.name: i.data_type for i in m16.graph.initializer}
    expect = {
        'state0 input float16': outer['state0'] == HALF,
        'state_final output float16': outer['state_final'] == HALF,
        'logits_all output float32 (kept)': outer['logits_all'] == FLOAT,
        'uniforms/temperature stay float64': outer['uniforms'] == DOUBLE and outer['temperature'] == DOUBLE,
        'weights float16 (emb, w1, w_out)': all(inits.get(k) == HALF for k in ('emb', 'w1', 'w_out')),
        'no initializer is cast': not any(n.op_type == 'Cast' and n.input[0] in inits
                                          for g in (m16.graph, body_graph) for n in g.node),
        'body state float16': body['state'] == HALF and body['state_out'] == HALF,
        'body MatMul in float16': body['h'] == HALF,
        'body logits scan output float32': body['logits'] == FLOAT,
        'layer-norm chain float32': all(body[k] == FLOAT for k in ('mu', 'd', 'd2', 'var', 've', 'sd', 'xn')),
        'layer-norm affine float16': body['xg'] == HALF and body['y'] == HALF,
        'index arithmetic float32': all(body[k] == FLOAT for k in ('iter_f', 'half_it', 'row_f')),
        'sampler float64 untouched': all(body[k] == DOUBLE for k in ('ld', 'ls', 'prob', 'cdf', 'u')),
    }
    return [k for k, ok in expect.items() if not ok]


def loop_job(work: str) -> dict:
    d = os.path.join(work, 'loop')
    os.makedirs(d, exist_ok=True)
    m = loop_model()
    m16 = convert_to_fp16(m, set(), {'logits_all'})
    failed = check_loop_conversion(m16)
    paths = {k: os.path.join(d, f'loop.{k}.onnx') for k in ('fp32', 'fp16', 'emu')}
    onnx.save(m, paths['fp32'])
    onnx.save(m16, paths['fp16'])
    onnx.save(emulate_fp16_in_float32(m16), paths['emu'])
    rng = np.random.default_rng(1)
    n = 12
    state0 = rng.normal(0, 1, (2, 16)).astype(np.float16).astype(np.float32)  # float16-exact: identical inputs
    return {
        'failedExpectations': failed,
        'job': {
            'variants': {'fp32': {'file': paths['fp32'], 'half': False, 'opt': 'all'},
                         'fp16': {'file': paths['fp16'], 'half': True, 'opt': 'all'},
                         'emu': {'file': paths['emu'], 'half': False, 'opt': 'disabled'}},
            'feeds': {'tokens0': [3, 7], 'state0': {'data': state0.ravel().tolist(), 'dims': [2, 16]},
                      'uniforms': {'data': rng.random((n, 2)).ravel().tolist(), 'dims': [n, 2]},
                      'temperature': 0.99, 'n_steps': n},
        },
    }


# ----------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--work', default='/tmp/fp16-report')
    ap.add_argument('--reuse', action='store_true', help='keep existing exports in WORK/tiny32 and WORK/fam32')
    args = ap.parse_args()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    tiny, fam = os.path.join(work, 'tiny32'), os.path.join(work, 'fam32')
    if not (args.reuse and os.path.exists(os.path.join(tiny, 'manifest.json'))):
        subprocess.run([sys.executable, os.path.join(HERE, 'make_tiny_model.py'), '--out', tiny, '--no-fixture'],
                       check=True, stdout=subprocess.DEVNULL)
    if not (args.reuse and os.path.exists(os.path.join(fam, 'summary.json'))):
        subprocess.run([sys.executable, os.path.join(HERE, 'check_exported.py'), '--out', fam], check=True,
                       stderr=subprocess.DEVNULL)

    rng = random.Random(SEED)
    cases, files = [], {}
    manifest = json.load(open(os.path.join(tiny, 'manifest.json')))
    for lm in manifest['levels']:
        name = f'tiny/level{lm["level"]}'
        f = convert_level(tiny, lm, os.path.join(work, 'fp16', 'tiny'))
        files[name] = f
        cases.append({'name': name, 'level': lm['level'], 'lm': lm, 'variants': variants(f),
                      **tiny_case_inputs(manifest, lm, rng), 'refLogits': None, 'chunk': lm.get('samplingChunk', 64)})
    for fam_name in FAMILIES:
        d = os.path.join(fam, fam_name)
        lm = json.load(open(os.path.join(d, 'level.json')))
        ref = json.load(open(os.path.join(d, 'reference.json')))
        name = f'{fam_name}/level{lm["level"]}'
        f = convert_level(d, lm, os.path.join(work, 'fp16', fam_name))
        files[name] = f
        cases.append({'name': name, 'level': lm['level'], 'lm': lm, 'variants': variants(f),
                      'labels': ref['labels'], 'upperTokens': ref['upperTokens'], 'tokens': ref['tokens'],
                      'known': known_positions(lm), 'refLogits': ref['logits'], 'chunk': lm.get('samplingChunk', 64)})

    loop = loop_job(work)
    graphs = [f[k]['fp16'] for f in files.values() for k in ('conditioner', 'step')]
    probes = probe_models(graphs, os.path.join(work, 'probes'))

    # The runner's own half <-> float conversion, checked against numpy: [x, float16 bits, its value or None].
    half_checks = []
    with np.errstate(over='ignore'):  # 65520 rounds to inf
        for x in (0.0, -0.0, 1.0, 1 / 3, 65504.0, 65520.0, 1e-5, 6e-8, 2.9e-8, 3.1e-8, -2.5, 1.00048828125, 3.14159):
            h = np.array(x, np.float32).astype(np.float16)
            half_checks.append([x, int(h.view(np.uint16)), float(h) if np.isfinite(h) else None])
    job = {'root': ROOT, 'seed': str(SEED), 'out': os.path.join(work, 'results.json'), 'cases': cases,
           'probes': probes, 'loop': loop['job'], 'halfChecks': half_checks}
    with open(os.path.join(work, 'job.json'), 'w') as fh:
        json.dump(job, fh)
    runner = os.path.join(work, 'runner.mts')
    with open(runner, 'w') as fh:
        fh.write(RUNNER)
    subprocess.run(['npx', 'tsx', runner, os.path.join(work, 'job.json')], cwd=ROOT, check=True)
    results = json.load(open(job['out']))

    facts = ('bytesFp32', 'bytesFp16', 'meta', 'float32Nodes', 'precisionCasts', 'castsOfInitializers', 'initializerBytes')
    report = {'files': {k: {kind: {x: v[kind][x] for x in facts} for kind in v} for k, v in files.items()},
              'cases': results['cases'], 'probes': read_probes(results['probes']),
              'loop': {'failedExpectations': loop['failedExpectations'], 'run': results['loop']}}
    with open(os.path.join(work, 'report.json'), 'w') as fh:
        json.dump(report, fh, indent=1)
    print_summary(report)
    problems = [f'{c["name"]}: {c["errors"]}' for c in report['cases'] if c['errors']]
    problems += [f'{k} {kind}: {v[kind]["castsOfInitializers"]} Casts of initializers'
                 for k, v in report['files'].items() for kind in v if v[kind]['castsOfInitializers']]
    problems += [f'loop: {x}' for x in loop['failedExpectations']]
    if problems:
        sys.exit('\n'.join(['FAILED:'] + problems))


def fmt(d: dict) -> str:
    return ', '.join(f'{k} {v:.1e}' for k, v in d.items())


def print_summary(report: dict) -> None:
    print('\nlevel graph                 fp32 KB -> fp16 KB: conditioner, step, loop')
    for name, f in report['files'].items():
        sizes = '  '.join(f'{f[k]["bytesFp32"] / 1024:5.0f} -> {f[k]["bytesFp16"] / 1024:5.0f}' for k in f)
        s = f['step']
        print(f'{name:24s} {sizes}  step: {s["precisionCasts"]} casts, {s["castsOfInitializers"]} of initializers, '
              f'float32 nodes {s["float32Nodes"]}')
    print('\nlogits vs float32, token by token (max rel err / mean rel err / argmax differs / sampled token differs '
          '/ max TV of the sampling distribution)')
    for c in report['cases']:
        if c['errors']:
            print(c['name'], 'ERRORS', c['errors'])
        for src, vs in c['variants'].items():
            fp = vs['fp32']
            line = f'{c["name"]:24s} {src:9s} |logit| {fp["maxAbsLogit"]:6.2f} gap med {fp["top2GapMedian"]:.3f}'
            print(line)
            for v, r in vs.items():
                if v == 'fp32':
                    continue
                print(f'    {v:8s} {r["maxRel"]:.2e} / {r["meanRel"]:.2e} / {r["argmaxDiff"]}/{r["compared"]} / '
                      f'{r["sampledDiff"]}/{r["compared"]} / {r["maxTv"]:.2e}')
        cond = {v: max(e.values()) for v, e in c['conditioner'].items()}
        print(f'    conditioner outputs max rel err {fmt(cond)}; chunked prefill max rel err {fmt(c.get("chunked", {}))}; '
              f'fp32 vs PyTorch {c.get("fp32VsPytorch")}')
        if c.get('loop'):
            print(f'    loop graph, free-running: first position a row leaves the fp32 loop graph {json.dumps(c["loop"])}')
    print('\nCPU float16 kernels:')
    for p in report['probes']:
        print(f'  {p["op"]:20s} {p["cpu"][:100]}')
    print('\nLoop self-test: failed expectations', report['loop']['failedExpectations'])
    print(json.dumps(report['loop']['run'], indent=None)[:2000])


# The Node side, written to WORK/runner.mts (onnxruntime-node from this repository's node_modules, the host
# sampler and counter RNG from shared/).
RUNNER = r'''// fp16 agreement runner (written by tools/fp16_report.py): runs float32, float16 and float16-emulated graphs with
// onnxruntime-node on identical inputs, token by token with the KV cache, and compares the logits.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const require = createRequire(join(job.root, 'package.json'));
const ort = require('onnxruntime-node');
const { TokenSampler, DEFAULT_SAMPLING } = await import(pathToFileURL(join(job.root, 'shared', 'sampler.ts')).href);
const { uniform, splitSeed } = await import(pathToFileURL(join(job.root, 'shared', 'rng.ts')).href);
const seed = splitSeed(BigInt(job.seed));

// ---- half <-> float (IEEE binary16, round to nearest even) ----
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const e = (b >>> 23) & 0xff;
  const m = b & 0x7fffff;
  if (e === 255) return sign | 0x7c00 | (m ? 0x200 : 0);
  const he = e - 112; // rebias 127 -> 15
  if (he >= 31) return sign | 0x7c00;
  if (he <= 0) {
    if (he < -10) return sign;
    const full = m | 0x800000;
    const shift = 14 - he;
    const q = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (rem > half || (rem === half && q & 1) ? q + 1 : q);
  }
  const q = (he << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  return sign | (rem > 0x1000 || (rem === 0x1000 && q & 1) ? q + 1 : q); // a carry into the exponent is right
}
const roundHalf = (x: number) => halfToFloat(floatToHalf(x));
for (const [x, bits, value] of job.halfChecks as [number, number, number | null][]) {
  const back = halfToFloat(bits);
  if (floatToHalf(x) !== bits || (value === null ? Number.isFinite(back) : back !== value)) {
    throw new Error(`half conversion of ${x}: ${floatToHalf(x)} / ${back}, numpy ${bits} / ${value}`);
  }
}

function numbers(t: any): Float64Array {
  if (t.type === 'float16') return Float64Array.from(t.data as Uint16Array, halfToFloat);
  return Float64Array.from(t.data as ArrayLike<number>);
}
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return s ? d / s : d;
}
const int64 = (rows: number[][]) =>
  new ort.Tensor('int64', BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, rows[0].length]);
const opts = (level: string) => ({ graphOptimizationLevel: level, executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 });

// ---- one window, token by token ----
interface Variant { cond: string; step: string; loop?: string; half: boolean; opt: string; condFrom?: string }

async function conditioner(c: any, v: Variant): Promise<Record<string, any>> {
  const s = await ort.InferenceSession.create(v.cond, opts(v.opt));
  const feeds: Record<string, any> = { labels: int64(c.labels) };
  if (c.upperTokens) feeds.upper_tokens = int64(c.upperTokens);
  return s.run(feeds);
}

/** Float32 conditioner outputs rounded to float16 values (for the step-only emulation). */
function roundedOutputs(out: Record<string, any>): Record<string, any> {
  const r: Record<string, any> = {};
  for (const [k, t] of Object.entries(out)) r[k] = new ort.Tensor('float32', Float32Array.from(t.data as Float32Array, roundHalf), t.dims);
  return r;
}

/**
 * Runs the window in the given chunk sizes (default: one position per run); returns the logits at each chunk's
 * last position (indexed by position). `next(p, logits)` may set the token at p (sampling) before the next run.
 */
async function window(c: any, v: Variant, cond: Record<string, any>, seq: number[][],
                      next?: (p: number, l: Float32Array) => void, chunks?: number[]) {
  const lm = c.lm;
  const step = await ort.InferenceSession.create(v.step, opts(v.opt));
  const b = c.labels.length;
  const w = lm.width;
  const n = seq[0].length;
  const xc = cond.x_cond;
  const host = new Set(['tokens', 'position', 'x_cond', 'y_cond']);
  const pass: Record<string, any> = {};
  for (const name of step.inputNames) if (!host.has(name) && !name.startsWith('past_')) pass[name] = cond[name];
  const type = v.half ? 'float16' : 'float32';
  const Arr: any = v.half ? Uint16Array : Float32Array;
  let cache: any[] = [];
  for (let i = 0; i < 2 * lm.layers; i++) cache.push(new ort.Tensor(type, new Arr(0), [b, lm.heads, 0, lm.headDim]));
  const logits: Float32Array[] = [];
  const sizes = chunks ?? Array.from({ length: n }, () => 1);
  let p = 0;
  for (const t of sizes) {
    const x = new Arr(b * t * w);
    for (let r = 0; r < b; r++) x.set((xc.data as any).subarray((r * n + p) * w, (r * n + p + t) * w), r * t * w);
    const feeds: Record<string, any> = {
      tokens: int64(seq.map((row) => Array.from({ length: t }, (_, i) => (p + i === 0 ? 0 : row[p + i - 1])))),
      position: new ort.Tensor('int64', BigInt64Array.of(BigInt(p)), [1]),
      x_cond: new ort.Tensor(type, x, [b, t, w]),
      y_cond: cond.y_cond,
      ...pass,
    };
    for (let i = 0; i < lm.layers; i++) {
      feeds[`past_key_${i}`] = cache[2 * i];
      feeds[`past_value_${i}`] = cache[2 * i + 1];
    }
    const out = await step.run(feeds);
    if (out.logits.type !== 'float32') throw new Error(`logits are ${out.logits.type}`);
    p += t;
    const l = out.logits.data as Float32Array;
    logits[p - 1] = l;
    if (next) next(p - 1, l);
    cache = [];
    for (let i = 0; i < lm.layers; i++) {
      for (const kind of ['key', 'value']) {
        const t = out[`present_${kind}_${i}`];
        if (t.type !== type) throw new Error(`present_${kind}_${i} is ${t.type}, expected ${type}`);
        cache.push(t);
      }
    }
  }
  return logits;
}

function compare(c: any, level: number, ref: Float32Array[], got: Float32Array[]) {
  const b = c.labels.length;
  const v = c.lm.codebookSize + c.lm.vocabOffset;
  const sampler = new TokenSampler(v);
  let maxRel = 0;
  let sumRel = 0;
  let argmax = 0;
  let sampled = 0;
  let maxTv = 0;
  let sumTv = 0;
  let notHalf = 0;
  let count = 0;
  const first = c.known; // positions whose logits the host samples from
  for (let p = first; p < ref.length; p++) {
    for (let r = 0; r < b; r++) {
      const a = got[p].subarray(r * v, (r + 1) * v);
      const e = ref[p].subarray(r * v, (r + 1) * v);
      const rel = relErr(a, e);
      maxRel = Math.max(maxRel, rel);
      sumRel += rel;
      let ia = 0;
      let ie = 0;
      for (let i = 1; i < v; i++) {
        if (a[i] > a[ia]) ia = i;
        if (e[i] > e[ie]) ie = i;
      }
      if (ia !== ie) argmax++;
      const u = uniform(seed.hi, seed.lo, r, level, p);
      if (sampler.sample(got[p], r * v, DEFAULT_SAMPLING, u) !== sampler.sample(ref[p], r * v, DEFAULT_SAMPLING, u)) sampled++;
      const pa = sampler.probabilities(got[p], r * v, DEFAULT_SAMPLING);
      const pe = sampler.probabilities(ref[p], r * v, DEFAULT_SAMPLING);
      let tv = 0;
      for (let i = 0; i < v; i++) tv += Math.abs(pa[i] - pe[i]);
      tv /= 2;
      maxTv = Math.max(maxTv, tv);
      sumTv += tv;
      for (let i = 0; i < v; i++) if (roundHalf(a[i]) !== a[i]) notHalf++;
      count++;
    }
  }
  return { maxRel, meanRel: sumRel / count, argmaxDiff: argmax, sampledDiff: sampled, maxTv, meanTv: sumTv / count, compared: count, logitsNotHalfExact: notHalf };
}

/** Spread of the float32 logits: the gap between the two largest (how easily argmax flips). */
function margins(c: any, ref: Float32Array[]) {
  const b = c.labels.length;
  const v = c.lm.codebookSize + c.lm.vocabOffset;
  const gaps: number[] = [];
  let scale = 0;
  for (let p = c.known; p < ref.length; p++) {
    for (let r = 0; r < b; r++) {
      let m1 = -Infinity;
      let m2 = -Infinity;
      for (let i = 0; i < v; i++) {
        const x = ref[p][r * v + i];
        scale = Math.max(scale, Math.abs(x));
        if (x > m1) { m2 = m1; m1 = x; } else if (x > m2) m2 = x;
      }
      gaps.push(m1 - m2);
    }
  }
  gaps.sort((x, y) => x - y);
  return { maxAbsLogit: scale, top2GapMin: gaps[0], top2GapMedian: gaps[gaps.length >> 1] };
}

/**
 * Samples the window with a contract-v2 loop graph from position 0: prefill of the known positions (n_steps 0),
 * then chunks of `chunk` tokens with Jukebox's default sampling and the same uniforms as the step runs.
 */
async function loopWindow(c: any, v: Variant, cond: Record<string, any>, chunk: number): Promise<number[][]> {
  const lm = c.lm;
  const s = await ort.InferenceSession.create(v.loop, opts(v.opt));
  const b = c.labels.length;
  const n = c.tokens[0].length;
  const type = v.half ? 'float16' : 'float32';
  const Arr: any = v.half ? Uint16Array : Float32Array;
  const host = new Set(['tokens', 'position', 'x_cond', 'y_cond', 'n_steps', 'uniforms', 'temperature', 'top_k', 'top_p']);
  const fixed: Record<string, any> = { x_cond: cond.x_cond, y_cond: cond.y_cond };
  for (const name of s.inputNames) if (!host.has(name) && !name.startsWith('past_')) fixed[name] = cond[name];
  const rows = (x: number, T: any) => new T(b).fill(x);
  fixed.temperature = new ort.Tensor('float64', rows(DEFAULT_SAMPLING.temperature, Float64Array), [b]);
  fixed.top_p = new ort.Tensor('float64', rows(DEFAULT_SAMPLING.topP, Float64Array), [b]);
  fixed.top_k = new ort.Tensor('int64', new BigInt64Array(b).fill(BigInt(DEFAULT_SAMPLING.topK)), [b]);
  let cache: Record<string, any> = {};
  for (let i = 0; i < lm.layers; i++) {
    for (const kind of ['key', 'value']) cache[`past_${kind}_${i}`] = new ort.Tensor(type, new Arr(0), [b, lm.heads, 0, lm.headDim]);
  }
  const seq: number[][] = c.tokens.map((row: number[]) => row.slice(0, c.known));
  const run = async (tokens: number[][], pos: number, steps: number) => {
    const u = new Float64Array(b * steps);
    for (let r = 0; r < b; r++) for (let i = 0; i < steps; i++) u[r * steps + i] = uniform(seed.hi, seed.lo, r, c.level, pos + i);
    const out = await s.run({
      ...fixed, ...cache,
      tokens: int64(tokens),
      position: new ort.Tensor('int64', BigInt64Array.of(BigInt(pos)), [1]),
      n_steps: new ort.Tensor('int64', BigInt64Array.of(BigInt(steps)), []),
      uniforms: new ort.Tensor('float64', u, [b, steps]),
    });
    cache = {};
    for (const name of Object.keys(out)) if (name.startsWith('present_')) {
      if (out[name].type !== type) throw new Error(`${name} is ${out[name].type}, expected ${type}`);
      cache[name.replace('present_', 'past_')] = out[name];
    }
    return out;
  };
  let pos = 0;
  if (c.known > 0) { // prefill the known positions (a lyric prefix), then sample from the first music position
    await run(seq.map((row) => [0, ...row.slice(0, c.known - 1)]), 0, 0);
    pos = c.known;
  }
  while (pos < n) {
    const steps = Math.min(chunk, n - pos);
    const prev = seq.map((row) => [pos === 0 ? 0 : row[pos - 1]]);
    const out = await run(prev, pos, steps);
    const t = Array.from(out.tokens_out.data as BigInt64Array, Number);
    for (let r = 0; r < b; r++) for (let i = 0; i < steps; i++) seq[r][pos + i] = t[r * steps + i];
    pos += steps;
  }
  return seq;
}

const results: any = { cases: [], probes: [], loop: null };
for (const c of job.cases) {
  const t0 = Date.now();
  const res: any = { name: c.name, level: c.level, variants: {}, errors: {} };
  const conds: Record<string, any> = {};
  for (const [name, v] of Object.entries(c.variants) as [string, Variant][]) {
    try {
      conds[name] = v.condFrom ? roundedOutputs(conds[v.condFrom]) : await conditioner(c, v);
    } catch (e) {
      res.errors[name] = `conditioner: ${String(e).slice(0, 400)}`;
    }
  }
  // Conditioner agreement (each float output vs float32).
  res.conditioner = {};
  for (const name of Object.keys(c.variants)) {
    if (name === 'fp32' || !conds[name]) continue;
    res.conditioner[name] = {};
    for (const k of Object.keys(conds.fp32)) res.conditioner[name][k] = relErr(numbers(conds[name][k]), numbers(conds.fp32[k]));
  }
  // Sequences: the reference tokens, and the tokens the float32 graphs sample themselves.
  const sources: Record<string, number[][]> = { reference: c.tokens };
  const b = c.labels.length;
  const v = c.lm.codebookSize + c.lm.vocabOffset;
  const sampler = new TokenSampler(v);
  /**
   * The window sampled with the step graph and the host sampler (Jukebox's defaults, the counter RNG); a lyric
   * prefix is prefilled in one run, as loopWindow does (the prefill chunking is part of the determinism contract).
   */
  const sampleSteps = async (vv: Variant, cond: Record<string, any>) => {
    const seq = c.tokens.map((row: number[]) => row.slice());
    const n = seq[0].length;
    const chunks = c.known > 0 ? [c.known, ...Array.from({ length: n - c.known }, () => 1)] : undefined;
    const logits = await window(c, vv, cond, seq, (p, l) => {
      if (p < c.known) return;
      for (let r = 0; r < b; r++) seq[r][p] = sampler.sample(l, r * v, DEFAULT_SAMPLING, uniform(seed.hi, seed.lo, r, c.level, p));
    }, chunks);
    return { seq, logits };
  };
  const { seq: sampledSeq, logits: fp32Sampled } = await sampleSteps(c.variants.fp32, conds.fp32);
  sources.sampled = sampledSeq;
  for (const [src, seq] of Object.entries(sources)) {
    const ref = src === 'sampled' ? fp32Sampled : await window(c, c.variants.fp32, conds.fp32, seq);
    res.variants[src] = { fp32: margins(c, ref) };
    if (src === 'reference' && c.refLogits) {
      let worst = 0;
      for (let p = 0; p < ref.length; p++) for (let r = 0; r < b; r++) worst = Math.max(worst, relErr(ref[p].subarray(r * v, (r + 1) * v), c.refLogits[p][r]));
      res.fp32VsPytorch = worst;
    }
    for (const [name, vv] of Object.entries(c.variants) as [string, Variant][]) {
      if (name === 'fp32' || !conds[name]) continue;
      try {
        res.variants[src][name] = compare(c, c.level, ref, await window(c, vv, conds[name], seq));
      } catch (e) {
        res.errors[name] = `step: ${String(e).slice(0, 400)}`;
      }
    }
  }
  // Chunked prefill (prefillChunk positions per run, then single steps) on the reference tokens: the logits at
  // each chunk's end against the float32 graphs' token-by-token logits.
  const n = c.tokens[0].length;
  const k = c.lm.prefillChunk;
  const pre = Math.floor((n - 8) / k) * k;
  const chunks = [...Array.from({ length: pre / k }, () => k), ...Array.from({ length: n - pre }, () => 1)];
  const single = await window(c, c.variants.fp32, conds.fp32, c.tokens);
  res.chunked = {};
  for (const [name, vv] of Object.entries(c.variants) as [string, Variant][]) {
    if (!conds[name] || res.errors[name]) continue;
    const got = await window(c, vv, conds[name], c.tokens, undefined, chunks);
    let worst = 0;
    got.forEach((l, p) => { if (l) worst = Math.max(worst, relErr(l, single[p])); });
    res.chunked[name] = worst;
  }
  // Loop graphs (contract v2): free-running sampling from position 0, first position where a row's tokens leave
  // the float32 loop graph's (the float32 loop graph itself against the step graph + host sampler).
  if (c.variants.fp32.loop) {
    res.loop = {};
    const ref = await loopWindow(c, c.variants.fp32, conds.fp32, c.chunk);
    const firstDiff = (a: number[][], e: number[][]) => a.map((row, r) => { const i = row.findIndex((t, p) => t !== e[r][p]); return i < 0 ? null : i; });
    res.loop.fp32VsStepSampler = firstDiff(ref, sampledSeq);
    for (const [name, vv] of Object.entries(c.variants) as [string, Variant][]) {
      if (name === 'fp32' || !vv.loop || !conds[name]) continue;
      try {
        const tokens = await loopWindow(c, vv, conds[name], c.chunk);
        res.loop[name] = firstDiff(tokens, ref);
        res.loop[`${name}VsOwnStepSampler`] = firstDiff(tokens, (await sampleSteps(vv, conds[name])).seq);
      } catch (e) {
        res.errors[`${name} loop`] = String(e).slice(0, 400);
      }
    }
  }
  res.seconds = (Date.now() - t0) / 1000;
  results.cases.push(res);
  console.error(`${c.name}: ${res.seconds.toFixed(1)} s`);
}

for (const p of job.probes ?? []) {
  try {
    await ort.InferenceSession.create(p.file, { ...opts('disabled'), optimizedModelFilePath: p.file + '.opt.onnx' });
    results.probes.push({ ...p, created: true });
  } catch (e) {
    results.probes.push({ ...p, created: false, error: String(e).slice(0, 300) });
  }
}

if (job.loop) {
  const L = job.loop;
  const out: Record<string, any> = {};
  for (const [name, v] of Object.entries(L.variants) as [string, any][]) {
    try {
      const s = await ort.InferenceSession.create(v.file, opts(v.opt));
      const st = L.feeds.state0;
      const feeds: Record<string, any> = {
        tokens0: new ort.Tensor('int64', BigInt64Array.from(L.feeds.tokens0, (x: number) => BigInt(x)), [L.feeds.tokens0.length]),
        state0: v.half
          ? new ort.Tensor('float16', Uint16Array.from(st.data, floatToHalf), st.dims)
          : new ort.Tensor('float32', Float32Array.from(st.data), st.dims),
        uniforms: new ort.Tensor('float64', Float64Array.from(L.feeds.uniforms.data), L.feeds.uniforms.dims),
        temperature: new ort.Tensor('float64', Float64Array.of(L.feeds.temperature), []),
        n_steps: new ort.Tensor('int64', BigInt64Array.of(BigInt(L.feeds.n_steps)), []),
      };
      const r = await s.run(feeds);
      out[name] = {
        tokens: Array.from(r.tokens_out.data as BigInt64Array, Number),
        logits: numbers(r.logits_all),
        logitsType: r.logits_all.type,
        stateType: r.state_final.type,
        state: numbers(r.state_final),
      };
    } catch (e) {
      out[name] = { error: String(e).slice(0, 400) };
    }
  }
  const cmp: any = {};
  for (const name of Object.keys(out)) {
    if (name === 'fp32' || out[name].error) { cmp[name] = out[name]; continue; }
    const a = out[name];
    const e = out.fp32;
    cmp[name] = {
      logitsRel: relErr(a.logits, e.logits),
      stateRel: relErr(a.state, e.state),
      tokensDiffer: a.tokens.filter((t: number, i: number) => t !== e.tokens[i]).length,
      tokens: a.tokens.length,
      logitsType: a.logitsType,
      stateType: a.stateType,
    };
  }
  cmp.fp32 = { tokens: out.fp32?.tokens };
  results.loop = cmp;
}

writeFileSync(job.out, JSON.stringify(results, null, 1));
'''

if __name__ == '__main__':
    main()
