"""The fused sampling graph of contract version 2 (`levelL.loop.onnx`), built from a level's step graph.

One session.run samples `n_steps` tokens: the step graph's nodes become the body of an ONNX Loop that
carries the fed-back token and the KV cache (the cache may change length between iterations), and the
host's sampler runs in the graph, fed the counter RNG's uniforms, so a token stays a function of
(seed, row, level, position) and the cache stays on the device between tokens.

The sampler mirrors shared/sampler.ts in float64: s = logits / temperature; top-k keeps s >= the k-th
largest s (ties kept); top-p keeps, from the highest down, each token whose preceding mass among the
top-k survivors is below top_p * their total; then an inverse CDF in vocabulary order:
token = min(#(cdf <= u * total), #(cdf < total)). Sorting only finds thresholds, so two logits that swap
order by float noise cannot move which token a uniform lands on. Thresholds are computed only when some
row of the batch filters (an If), since the full sort is the sampler's dearest part.

Inputs: the step graph's inputs with `tokens` [B, 1] (the token before the first position), `position`
[1] (the first position), `x_cond` [B, S, W] (the whole window's, sliced per position in the graph),
plus `n_steps` int64 scalar, `uniforms` float64 [B, N >= n_steps], `temperature` float64 [B], `top_k`
int64 [B] (0 = off), `top_p` float64 [B] (1 = off). Outputs: `tokens_out` int64 [B, n_steps] (ids in the
graph's vocabulary: prefix models may sample lyric ids; the host clamps what it stores) and the cache
after the chunk under the step graph's present_* names.
"""
from typing import Dict, List

import onnx
from onnx import TensorProto, helper

BODY = 'loop/'  # prefix of every value the Loop body defines: subgraph names must not shadow outer ones
STEP = 'loop/step/'


def _kv_names(step: onnx.GraphProto) -> List[str]:
    return [i.name for i in step.input if i.name.startswith('past_')]


def _value_info_like(src: onnx.ValueInfoProto, name: str) -> onnx.ValueInfoProto:
    """Same element type, rank-only shape (lengths change between iterations)."""
    t = src.type.tensor_type
    dims = [None] * len(t.shape.dim)
    return helper.make_tensor_value_info(name, t.elem_type, dims)


def _sampler_nodes(logits: str, u: str, vocab: int, use_filters: str, sort_k: str) -> (List[onnx.NodeProto], str):
    """Nodes from logits [B, V] (float) and u [B] (float64) to the sampled token [B] (int64). sort_k [1]: how many
    of the largest values the filters sort (the largest effective top-k of the batch: V when a row has none)."""
    n: List[onnx.NodeProto] = []
    p = BODY + 's/'
    n += [
        _const(p + 'axes1', TensorProto.INT64, [1], [1]),
        _const(p + 'neg_inf', TensorProto.DOUBLE, [1], [float('-inf')]),
        _const(p + 'zero_d', TensorProto.DOUBLE, [1], [0.0]),
        helper.make_node('Cast', [logits], [p + 'l'], to=TensorProto.DOUBLE),
        helper.make_node('Unsqueeze', ['temperature', p + 'axes1'], [p + 't']),
        helper.make_node('Div', [p + 'l', p + 't'], [p + 's']),
        helper.make_node('ReduceMax', [p + 's'], [p + 'max'], axes=[1], keepdims=1),
        helper.make_node('Sub', [p + 's', p + 'max'], [p + 'd']),
    ]

    # Threshold per row [B, 1]; -inf when no row filters.
    th = p + 'f/'
    then_nodes: List[onnx.NodeProto] = [
        _const(th + 'V', TensorProto.INT64, [1], [vocab]),
        _const(th + 'zero', TensorProto.INT64, [1], [0]),
        _const(th + 'one', TensorProto.INT64, [1], [1]),
        _const(th + 'one_d', TensorProto.DOUBLE, [1], [1.0]),
        _const(th + 'pos_inf', TensorProto.DOUBLE, [1], [float('inf')]),
    ]
    then_nodes += [
        helper.make_node('TopK', [p + 's', sort_k], [th + 'sorted', th + 'sorted_idx'], axis=1, largest=1, sorted=1),
        # top-k: the k-th largest (k = V when off)
        helper.make_node('Greater', ['top_k', th + 'zero'], [th + 'k_pos']),
        helper.make_node('Less', ['top_k', th + 'V'], [th + 'k_lt']),
        helper.make_node('And', [th + 'k_pos', th + 'k_lt'], [th + 'k_on']),
        helper.make_node('Where', [th + 'k_on', 'top_k', th + 'V'], [th + 'k_eff']),
        helper.make_node('Sub', [th + 'k_eff', th + 'one'], [th + 'k_idx0']),
        helper.make_node('Unsqueeze', [th + 'k_idx0', p + 'axes1'], [th + 'k_idx']),
        helper.make_node('GatherElements', [th + 'sorted', th + 'k_idx'], [th + 'kthr'], axis=1),
        # top-p over what top-k keeps, walking the sorted values from the highest
        helper.make_node('Sub', [th + 'sorted', p + 'max'], [th + 'sd']),
        helper.make_node('Exp', [th + 'sd'], [th + 'se']),
        helper.make_node('GreaterOrEqual', [th + 'sorted', th + 'kthr'], [th + 'kept']),
        helper.make_node('Where', [th + 'kept', th + 'se', p + 'zero_d'], [th + 'w']),
        helper.make_node('ReduceSum', [th + 'w', p + 'axes1'], [th + 'total'], keepdims=1),
        helper.make_node('Unsqueeze', ['top_p', p + 'axes1'], [th + 'top_p']),
        helper.make_node('Mul', [th + 'top_p', th + 'total'], [th + 'target']),
        helper.make_node('CumSum', [th + 'w', th + 'one'], [th + 'before'], exclusive=1),
        helper.make_node('Less', [th + 'before', th + 'target'], [th + 'p_in']),
        helper.make_node('And', [th + 'p_in', th + 'kept'], [th + 'p_kept']),
        helper.make_node('Where', [th + 'p_kept', th + 'sorted', th + 'pos_inf'], [th + 'p_vals']),
        helper.make_node('ReduceMin', [th + 'p_vals'], [th + 'pthr_raw'], axes=[1], keepdims=1),
        helper.make_node('Less', [th + 'top_p', th + 'one_d'], [th + 'p_on']),
        helper.make_node('Where', [th + 'p_on', th + 'pthr_raw', p + 'neg_inf'], [th + 'pthr']),
        helper.make_node('Max', [th + 'kthr', th + 'pthr'], [th + 'thr']),
    ]
    then_graph = helper.make_graph(then_nodes, 'filters', [], [helper.make_tensor_value_info(th + 'thr', TensorProto.DOUBLE, [None, 1])])
    el = p + 'nf/'
    else_graph = helper.make_graph([
        helper.make_node('Shape', [p + 'max'], [el + 'shape']),
        helper.make_node('Expand', [p + 'neg_inf', el + 'shape'], [el + 'thr']),
    ], 'no_filters', [], [helper.make_tensor_value_info(el + 'thr', TensorProto.DOUBLE, [None, 1])])
    n.append(helper.make_node('If', [use_filters], [p + 'thr'], then_branch=then_graph, else_branch=else_graph))

    n += [
        helper.make_node('GreaterOrEqual', [p + 's', p + 'thr'], [p + 'keep']),
        helper.make_node('Exp', [p + 'd'], [p + 'e']),
        helper.make_node('Where', [p + 'keep', p + 'e', p + 'zero_d'], [p + 'w']),
        helper.make_node('CumSum', [p + 'w', p + 'axes1_s'], [p + 'cdf']),
        helper.make_node('ReduceMax', [p + 'cdf'], [p + 'total'], axes=[1], keepdims=1),
        helper.make_node('Unsqueeze', [u, p + 'axes1'], [p + 'u']),
        helper.make_node('Mul', [p + 'u', p + 'total'], [p + 'target']),
        helper.make_node('LessOrEqual', [p + 'cdf', p + 'target'], [p + 'below']),
        helper.make_node('Cast', [p + 'below'], [p + 'below_i'], to=TensorProto.INT64),
        helper.make_node('ReduceSum', [p + 'below_i', p + 'axes1'], [p + 'c1'], keepdims=0),
        helper.make_node('Less', [p + 'cdf', p + 'total'], [p + 'under'], ),
        helper.make_node('Cast', [p + 'under'], [p + 'under_i'], to=TensorProto.INT64),
        helper.make_node('ReduceSum', [p + 'under_i', p + 'axes1'], [p + 'c2'], keepdims=0),
        helper.make_node('Min', [p + 'c1', p + 'c2'], [p + 'token']),
    ]
    # CumSum's axis is a scalar or 1-element tensor; a scalar keeps it simple.
    n.insert(0, _const(p + 'axes1_s', TensorProto.INT64, [], [1]))
    return n, p + 'token'


def _hoistable(step: onnx.GraphProto) -> List[onnx.NodeProto]:
    """Step nodes that read only weights and constants (the fp16 weights' Casts, Constants): computed once in the
    outer graph, not per token inside the Loop, where ONNX Runtime would not fold them."""
    known = {i.name for i in step.initializer}
    out = []
    for n in step.node:
        if all(x == '' or x in known for x in n.input) and not any(a.type == onnx.AttributeProto.GRAPH for a in n.attribute):
            out.append(n)
            known.update(n.output)
    return out


def _step_nodes(step: onnx.GraphProto, prefix: str, rename: Dict[str, str], outer_names: set,
                skip: set) -> List[onnx.NodeProto]:
    """The step graph's nodes (but `skip`) with every value they define renamed (prefix, or `rename`); outer values
    kept."""
    def mapped(name: str) -> str:
        if name == '' or name in outer_names:
            return name
        return rename.setdefault(name, prefix + name)

    nodes = []
    for node in step.node:
        if id(node) in skip:
            continue
        new = onnx.NodeProto()
        new.CopyFrom(node)
        new.name = prefix + (node.name or node.output[0])
        del new.input[:]
        new.input.extend(mapped(x) for x in node.input)
        del new.output[:]
        new.output.extend(mapped(x) for x in node.output)
        nodes.append(new)
    return nodes


def _const(name: str, dtype: int, dims: List[int], vals: list) -> onnx.NodeProto:
    return helper.make_node('Constant', [], [name], value=helper.make_tensor(name + '_v', dtype, dims, vals))


def loop_model(step_model: onnx.ModelProto, vocab: int) -> onnx.ModelProto:
    """The fused graph around a level's exported step graph (see the module docstring).

    n_steps = 0 prefills instead: `tokens` [B, T] are the known inputs of positions position .. position+T-1 (as the
    step graph takes them), nothing is sampled (tokens_out [B, 0]) and the cache after them comes out. So one session
    does both, and a worker holds the weights once (they are the outer graph's initializers, read by both branches).
    """
    step = step_model.graph
    kv = _kv_names(step)
    presents = [o.name for o in step.output if o.name.startswith('present_')]
    assert len(kv) == len(presents) and len(kv) > 0
    step_inputs = {i.name: i for i in step.input}
    passthrough = [i for i in step.input if i.name not in ('tokens', 'position', 'x_cond') and not i.name.startswith('past_')]
    # A declared-unused input (encoder_kv where the graph reads projected keys) is not needed here.
    used = {name for node in step.node for name in node.input}
    passthrough = [i for i in passthrough if i.name in used]
    hoisted = _hoistable(step)
    skip = {id(n) for n in hoisted}
    outer_names = {i.name for i in step.initializer} | {i.name for i in passthrough} | {o for n in hoisted for o in n.output}
    past_vi = [step_inputs[n] for n in kv]
    i64 = TensorProto.INT64

    # ---- Loop body: one sampled position per iteration.
    rename: Dict[str, str] = {'tokens': BODY + 'tok', 'position': BODY + 'pos', 'x_cond': BODY + 'x_t'}
    for i, name in enumerate(kv):
        rename[name] = f'{BODY}kv_in_{i}'
    # The step's cache outputs are the body's carried outputs themselves (an Identity per tensor would cost a copy).
    out_kv = [f'{BODY}kv_out_{i}' for i in range(len(presents))]
    rename.update(zip(presents, out_kv))
    body_nodes: List[onnx.NodeProto] = [
        _const(BODY + 'one', i64, [1], [1]),
        _const(BODY + 'axis1', i64, [1], [1]),
        helper.make_node('Reshape', [BODY + 'iter', BODY + 'one'], [BODY + 'iter1']),
        helper.make_node('Add', ['position', BODY + 'iter1'], [BODY + 'pos']),
        helper.make_node('Add', [BODY + 'pos', BODY + 'one'], [BODY + 'pos_end']),
        helper.make_node('Slice', ['x_cond', BODY + 'pos', BODY + 'pos_end', BODY + 'axis1'], [BODY + 'x_t']),
    ]
    body_nodes += _step_nodes(step, STEP, rename, outer_names, skip)
    sampler, token = _sampler_nodes(rename['logits'], BODY + 'u', vocab, 'use_filters', 'sample/sort_k')
    body_nodes.append(helper.make_node('Gather', ['uniforms', BODY + 'iter'], [BODY + 'u'], axis=1))
    body_nodes += sampler
    body_nodes += [
        helper.make_node('Unsqueeze', [token, BODY + 'axis1'], [BODY + 'tok_next']),
        helper.make_node('Identity', [BODY + 'cond'], [BODY + 'cond_out']),
    ]
    body_inputs = [
        helper.make_tensor_value_info(BODY + 'iter', i64, []),
        helper.make_tensor_value_info(BODY + 'cond', TensorProto.BOOL, []),
        helper.make_tensor_value_info(BODY + 'tok', i64, [None, 1]),
    ] + [_value_info_like(vi, f'{BODY}kv_in_{i}') for i, vi in enumerate(past_vi)]
    body_outputs = [
        helper.make_tensor_value_info(BODY + 'cond_out', TensorProto.BOOL, []),
        helper.make_tensor_value_info(BODY + 'tok_next', i64, [None, 1]),
    ] + [_value_info_like(vi, out_kv[i]) for i, vi in enumerate(past_vi)] + [
        helper.make_tensor_value_info(token, i64, [None]),
    ]
    body = helper.make_graph(body_nodes, 'sample_step', body_inputs, body_outputs)

    # ---- Sampling branch: whether any row filters (loop-invariant), the Loop, tokens [N, B] -> [B, N].
    o = 'sample/'
    loop_kv = [o + name for name in presents]
    sample_nodes = [
        _const(o + 'zero', i64, [], [0]),
        _const(o + 'V', i64, [], [vocab]),
        _const(o + 'one_d', TensorProto.DOUBLE, [], [1.0]),
        helper.make_node('Greater', ['top_k', o + 'zero'], [o + 'k_pos']),
        helper.make_node('Less', ['top_k', o + 'V'], [o + 'k_lt']),
        helper.make_node('And', [o + 'k_pos', o + 'k_lt'], [o + 'k_on']),
        helper.make_node('Less', ['top_p', o + 'one_d'], [o + 'p_on']),
        helper.make_node('Or', [o + 'k_on', o + 'p_on'], [o + 'any_on']),
        helper.make_node('Cast', [o + 'any_on'], [o + 'any_i'], to=i64),
        helper.make_node('ReduceMax', [o + 'any_i'], [o + 'any_max'], keepdims=0),
        helper.make_node('Cast', [o + 'any_max'], ['use_filters'], to=TensorProto.BOOL),
        # Sorting only the largest k of the batch is enough for top-k and for top-p within it (TopK is the
        # filters' dearest node); a row without top-k needs the whole vocabulary.
        helper.make_node('Where', [o + 'k_on', 'top_k', o + 'V'], [o + 'k_eff']),
        helper.make_node('ReduceMax', [o + 'k_eff'], [o + 'sort_k'], keepdims=1),
        helper.make_node('Loop', ['n_steps', '', 'tokens'] + kv, [o + 'tok_last'] + loop_kv + [o + 'tokens_nb'], body=body),
        helper.make_node('Transpose', [o + 'tokens_nb'], [o + 'tokens_out'], perm=[1, 0]),
    ]
    sample_graph = helper.make_graph(sample_nodes, 'sample', [], [helper.make_tensor_value_info(o + 'tokens_out', i64, [None, None])]
                                     + [_value_info_like(vi, name) for vi, name in zip(past_vi, loop_kv)])

    # ---- Prefill branch: the step graph over tokens [B, T] at once, as contract v1's prefill.
    f = 'prefill/'
    f_rename: Dict[str, str] = {'tokens': 'tokens', 'position': 'position', 'x_cond': f + 'x_t'}
    for name in kv:
        f_rename[name] = name
    f_kv = [f + name for name in presents]
    f_rename.update(zip(presents, f_kv))
    prefill_nodes = [
        _const(f + 'axis1', i64, [1], [1]),
        _const(f + 'zero', i64, [1], [0]),
        helper.make_node('Shape', ['tokens'], [f + 'shape']),
        helper.make_node('Gather', [f + 'shape', f + 'axis1'], [f + 't']),
        helper.make_node('Add', ['position', f + 't'], [f + 'pos_end']),
        helper.make_node('Slice', ['x_cond', 'position', f + 'pos_end', f + 'axis1'], [f + 'x_t']),
        # tokens_out [B, 0]: nothing sampled
        helper.make_node('Slice', ['tokens', f + 'zero', f + 'zero', f + 'axis1'], [f + 'tokens_out']),
    ]
    prefill_nodes += _step_nodes(step, f + 'step/', f_rename, outer_names | set(kv) | {'tokens', 'position'}, skip)
    prefill_graph = helper.make_graph(prefill_nodes, 'prefill', [], [helper.make_tensor_value_info(f + 'tokens_out', i64, [None, None])]
                                      + [_value_info_like(vi, name) for vi, name in zip(past_vi, f_kv)])

    outer_nodes = list(hoisted) + [
        _const('outer/zero', i64, [], [0]),
        helper.make_node('Equal', ['n_steps', 'outer/zero'], ['outer/prefill']),
        helper.make_node('If', ['outer/prefill'], ['tokens_out'] + presents, then_branch=prefill_graph, else_branch=sample_graph),
    ]
    inputs = [
        helper.make_tensor_value_info('tokens', i64, ['B', 'T']),
        step_inputs['position'],
        helper.make_tensor_value_info('x_cond', step_inputs['x_cond'].type.tensor_type.elem_type,
                                      ['B', 'S', step_inputs['x_cond'].type.tensor_type.shape.dim[2].dim_value]),
    ] + passthrough + past_vi + [
        helper.make_tensor_value_info('n_steps', i64, []),
        helper.make_tensor_value_info('uniforms', TensorProto.DOUBLE, ['B', 'N']),
        helper.make_tensor_value_info('temperature', TensorProto.DOUBLE, ['B']),
        helper.make_tensor_value_info('top_k', i64, ['B']),
        helper.make_tensor_value_info('top_p', TensorProto.DOUBLE, ['B']),
    ]
    outputs = [helper.make_tensor_value_info('tokens_out', i64, ['B', 'n_steps'])]
    outputs += [_value_info_like(vi, name) for name, vi in zip(presents, past_vi)]
    graph = helper.make_graph(outer_nodes, 'fused_sampling', inputs, outputs, initializer=list(step.initializer))
    model = helper.make_model(graph, opset_imports=list(step_model.opset_import), producer_name='jukebox-dist loop_graph')
    model.ir_version = step_model.ir_version
    return model
