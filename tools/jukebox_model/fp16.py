"""Half-precision (fp16) variants of exported graphs, for CUDA workers.

`convert_to_fp16(model, keep_float32_inputs, keep_float32_outputs, block_ops)` rewrites a float32 ONNX graph
so that its weights are float16 in the file and in memory, it computes in float16 where that is safe, and every
float graph input/output is float16 except the names kept float32 (for a step graph: `logits`, so that the host
sampler is unchanged; the KV cache, x_cond, y_cond and encoder keys/values are float16). What it does:

- float initializers and Constant nodes become float16 initializers (values beyond +-65504 clipped, e.g. the
  -1e9 attention mask fill). A Cast of an initializer (the exporter's fp16 checkpoint weights) is folded first,
  so no initializer is cast at load time: ONNX Runtime would fold such a cast and keep the weight in float32.
  An initializer that a float32 node reads gets a float32 twin with the original values instead of a Cast;
- every node runs in float16 unless it is *blocked*; a blocked node reads and writes float32, with Casts
  inserted on the edges between the two regions (one Cast per value and direction). Cast(to=FLOAT) and
  ConstantOfShape inside the float16 region produce float16. Blocked are:
    * `block_ops` (DEFAULT_BLOCK_OPS): LayerNormalization and Softmax as the official Jukebox fp16 code
      (its LayerNorm and attention softmax compute in float32), the reduction chain of a decomposed layer
      norm (ReduceMean, Pow, Sqrt, Reciprocal and the Sub/Add/Div/Mul that read their results), and ops
      that have no float16 in the ONNX schema (Range);
    * index arithmetic: the float nodes feeding a float->integer Cast or a float comparison (the timing
      conditioner bins sample counts up to ~2.6e7, far beyond fp16), traced back up to the first
      MatMul/Gemm/Conv/ConvTranspose/Einsum or op-blocked node;
    * with `block_double` (default on): every node that reads or writes float64 (the fused loop's in-graph
      sampler) runs unchanged and reads float32;
- subgraphs (Loop, Scan, If bodies: the fused multi-token graph, whose body is the step graph plus the
  sampler) are converted with the same rules. Their float formal inputs/outputs (loop-carried values such as
  the KV cache, scan outputs) are float16, like graph inputs/outputs, unless the body's name or the Loop's
  output name is in keep_float32_inputs/outputs; the Loop node's own float inputs/outputs follow its body.
  Values a body reads from the outer scope keep the outer precision and are cast inside the body where needed.

The result passes onnx.checker (full check, with strict shape inference). Large graphs: the checks run on a
copy whose float initializers are declared as inputs, so a graph over 2 GB works in memory; save it with
external data (export.save_graph).

`emulate_fp16_in_float32(model16)` is a measuring aid for CPUs: the same graph in float32, every tensor that
would be float16 rounded to float16 precision (Cast to float16 and back after the node that writes it).
"""
import os
import tempfile
from typing import Dict, Iterable, List, Optional, Set, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT, HALF, DOUBLE = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE
FLOATS = (FLOAT, HALF)
INTEGER_TYPES = {TensorProto.INT8, TensorProto.INT16, TensorProto.INT32, TensorProto.INT64, TensorProto.UINT8,
                 TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64, TensorProto.BOOL}
FP16_MAX = 65504.0

DEFAULT_BLOCK_OPS = frozenset({
    'LayerNormalization', 'Softmax', 'LogSoftmax',  # float32 as the official fp16 code
    'ReduceMean', 'Pow', 'Sqrt', 'Reciprocal',  # a decomposed layer norm's reduction chain (see _NORM_CHAIN)
    'Range',  # no float16 in the ONNX schema
})
# A decomposed layer norm's element-wise steps: blocked when they read one of these reductions' results.
_NORM_CHAIN = ({'Sub', 'Add', 'Div', 'Mul'}, {'ReduceMean', 'Sqrt', 'Pow', 'Reciprocal'})
# The index-arithmetic trace stops at these: their float inputs are activations and weights, not indices.
_HEAVY = {'MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'Einsum'}
_COMPARE = {'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'ArgMax', 'ArgMin'}
# Ops that read any float type: no Cast is needed in front of them.
_ANY_INPUT = {'Shape', 'Size', 'Cast'}
# Inputs that are float32 whatever the data type (Resize's scales).
_FLOAT32_SLOTS = {'Resize': {2}, 'Upsample': {1}}
_FLOW = {'Loop', 'Scan', 'If'}


# ----------------------------------------------------------------------------------------------
# Small graph utilities


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _subgraphs(node: onnx.NodeProto) -> List[onnx.GraphProto]:
    out = []
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            out.append(a.g)
        elif a.type == onnx.AttributeProto.GRAPHS:
            out.extend(a.graphs)
    return out


def _all_graphs(g: onnx.GraphProto) -> Iterable[onnx.GraphProto]:
    yield g
    for n in g.node:
        for s in _subgraphs(n):
            yield from _all_graphs(s)


def _referenced(g: onnx.GraphProto) -> Set[str]:
    """Every name that a node of g or of its subgraphs reads, plus g's outputs (lexical shadowing ignored:
    exported graphs are in SSA form across scopes)."""
    names = {o.name for o in g.output}
    for sg in _all_graphs(g):
        names.update(o.name for o in sg.output)
        for n in sg.node:
            names.update(i for i in n.input if i)
    return names


def _rename_reads(g: onnx.GraphProto, old: str, new: str) -> None:
    """Points every read of `old` in g and its subgraphs at `new`."""
    for sg in _all_graphs(g):
        for n in sg.node:
            for i, name in enumerate(n.input):
                if name == old:
                    n.input[i] = new


def _light_graph(g: onnx.GraphProto, as_float: Set[str]) -> onnx.GraphProto:
    """g without the weights' bytes: float initializers of more than 16 values become external-data stubs of the
    same type and shape (type FLOAT for the names in as_float), subgraphs likewise."""
    lg = onnx.GraphProto(name=g.name)
    lg.input.extend(g.input)
    lg.output.extend(g.output)
    lg.value_info.extend(g.value_info)
    for init in g.initializer:
        if init.data_type in FLOATS + (DOUBLE,) and (np.prod(init.dims, dtype=np.int64) > 16 or init.name in as_float):
            stub = lg.initializer.add(name=init.name, dims=init.dims,
                                      data_type=FLOAT if init.name in as_float else init.data_type,
                                      data_location=TensorProto.EXTERNAL)
            stub.external_data.add(key='location', value=_STUB)
        else:
            lg.initializer.add().CopyFrom(init)
    for n in g.node:
        if not _subgraphs(n):
            lg.node.add().CopyFrom(n)
            continue
        ln = lg.node.add(op_type=n.op_type, domain=n.domain, name=n.name, input=n.input, output=n.output)
        for a in n.attribute:
            la = ln.attribute.add()
            if a.type == onnx.AttributeProto.GRAPH:
                la.name, la.type = a.name, a.type
                la.g.CopyFrom(_light_graph(a.g, as_float))
            elif a.type == onnx.AttributeProto.GRAPHS:
                la.name, la.type = a.name, a.type
                la.graphs.extend(_light_graph(x, as_float) for x in a.graphs)
            else:
                la.CopyFrom(a)
    return lg


_STUB = 'fp16-light-copy.stub'


def _light_copy(model: onnx.ModelProto, as_float: Set[str] = frozenset()) -> onnx.ModelProto:
    """A copy without the weights' bytes (_light_graph), so shape inference and the checker work in memory on
    graphs over protobuf's 2 GB, and without copying them."""
    light = onnx.ModelProto(ir_version=model.ir_version, producer_name=model.producer_name,
                            producer_version=model.producer_version, domain=model.domain,
                            model_version=model.model_version)
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    light.graph.CopyFrom(_light_graph(model.graph, as_float))
    return light


def _key(parent: str, node_index: int, k: int) -> str:
    """Key of a node's k-th subgraph (protobuf's Python objects have no stable identity)."""
    return f'{parent}/{node_index}.{k}'


def value_types(model: onnx.ModelProto, as_float: Set[str] = frozenset()) -> Dict[str, Dict[str, int]]:
    """Element type of every value, per graph ('' for the main graph, _key() for subgraphs). as_float: float16
    initializers that stand for float32 values (folded weight Casts)."""
    inferred = onnx.shape_inference.infer_shapes(_light_copy(model, as_float), strict_mode=True)
    out: Dict[str, Dict[str, int]] = {}

    def walk(orig: onnx.GraphProto, inf: onnx.GraphProto, key: str) -> None:
        t: Dict[str, int] = {}
        for vi in list(inf.input) + list(inf.output) + list(inf.value_info):
            if vi.type.HasField('tensor_type'):
                t[vi.name] = vi.type.tensor_type.elem_type
        for init in orig.initializer:
            t[init.name] = FLOAT if init.name in as_float else init.data_type
        for n in orig.node:
            if n.op_type == 'Constant':
                for a in n.attribute:
                    if a.name == 'value':
                        t[n.output[0]] = a.t.data_type
                    elif a.name in ('value_float', 'value_floats'):
                        t[n.output[0]] = FLOAT
        out[key] = t
        for i, (no, ni) in enumerate(zip(orig.node, inf.node)):
            for k, (so, si) in enumerate(zip(_subgraphs(no), _subgraphs(ni))):
                walk(so, si, _key(key, i, k))

    walk(model.graph, inferred.graph, '')
    return out


class _Scope:
    """Types and precisions of the values of one graph, falling back to the enclosing graph's."""

    def __init__(self, graph: onnx.GraphProto, key: str, types: Dict[str, int], parent: Optional['_Scope']):
        self.graph, self.key, self.types, self.parent = graph, key, types, parent
        self.prec: Dict[str, int] = {}  # float value -> FLOAT or HALF after conversion
        self.inits: Dict[str, TensorProto] = {}  # this graph's float initializers
        self.twins: Dict[str, str] = {}  # initializer -> its float32 twin
        self.casts: Dict[Tuple[str, int], str] = {}  # (value, target) -> Cast output in this graph

    def type_of(self, name: str) -> Optional[int]:
        s = self
        while s is not None:
            if name in s.types:
                return s.types[name]
            s = s.parent
        return None

    def is_float(self, name: str) -> bool:
        return bool(name) and self.type_of(name) in FLOATS

    def owner(self, name: str) -> Optional['_Scope']:
        s = self
        while s is not None:
            if name in s.prec:
                return s
            s = s.parent
        return None


class _Names:
    def __init__(self, model: onnx.ModelProto):
        self.used = set()
        for g in _all_graphs(model.graph):
            self.used.update(i.name for i in g.input)
            self.used.update(i.name for i in g.initializer)
            for n in g.node:
                self.used.update(n.output)
                self.used.update(n.input)

    def new(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f'{base}{k}'
        self.used.add(name)
        return name


# ----------------------------------------------------------------------------------------------
# Conversion


def _reads(model: onnx.ModelProto) -> Dict[str, int]:
    """How many node inputs read each name (all graphs)."""
    count: Dict[str, int] = {}
    for g in _all_graphs(model.graph):
        for n in g.node:
            for x in n.input:
                count[x] = count.get(x, 0) + 1
    return count


def _remove_nodes(g: onnx.GraphProto, indices: List[int]) -> None:
    for i in sorted(indices, reverse=True):  # in place: no copy of the other nodes (or their subgraphs)
        del g.node[i]


def _constants_to_initializers(g: onnx.GraphProto, reads: Dict[str, int], as_float: Set[str]) -> None:
    """Float Constant nodes become initializers and Casts of initializers are folded, so that every float
    constant is an initializer the conversion can store as float16. A float16 weight cast to float32 (the
    exporter's keep_fp16_weights) is renamed to the Cast's output and kept float16, listed in as_float."""
    inits = {i.name: i for i in g.initializer}
    outputs = {o.name for o in g.output}
    drop = []
    for i, n in enumerate(g.node):
        if n.op_type == 'Constant' and n.output[0] not in outputs:
            attr = {a.name: a for a in n.attribute}
            arr = None
            if 'value' in attr and attr['value'].t.data_type in FLOATS:
                arr = numpy_helper.to_array(attr['value'].t)
            elif 'value_float' in attr:
                arr = np.array(attr['value_float'].f, np.float32)
            elif 'value_floats' in attr:
                arr = np.array(attr['value_floats'].floats, np.float32)
            if arr is not None:
                inits[n.output[0]] = g.initializer.add()
                inits[n.output[0]].CopyFrom(numpy_helper.from_array(arr, n.output[0]))
                drop.append(i)
        elif (n.op_type == 'Cast' and n.input[0] in inits and inits[n.input[0]].data_type in FLOATS
              and _attr(n, 'to') in FLOATS and n.output[0] not in outputs):
            src = inits.pop(n.input[0])
            if src.data_type == HALF and _attr(n, 'to') == FLOAT and reads[src.name] == 1:
                src.name = n.output[0]  # no float32 copy of a large weight
                as_float.add(src.name)
                inits[src.name] = src
            else:
                inits[src.name] = src
                inits[n.output[0]] = g.initializer.add()
                dtype = np.float16 if _attr(n, 'to') == HALF else np.float32
                inits[n.output[0]].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(src).astype(dtype),
                                                                    n.output[0]))
            drop.append(i)
    _remove_nodes(g, drop)
    for n in g.node:
        for sg in _subgraphs(n):
            _constants_to_initializers(sg, reads, as_float)


def _drop_unused_initializers(g: onnx.GraphProto, read: Set[str]) -> None:
    for i in reversed(range(len(g.initializer))):
        if g.initializer[i].name not in read:
            del g.initializer[i]
    for n in g.node:
        for sg in _subgraphs(n):
            _drop_unused_initializers(sg, read)


class _Converter:
    def __init__(self, model: onnx.ModelProto, keep_in: Set[str], keep_out: Set[str], block_ops: Set[str],
                 block_double: bool, as_float: Set[str]):
        self.model = model
        self.keep_in, self.keep_out = keep_in, keep_out
        self.block_ops, self.block_double = block_ops, block_double
        self.types = value_types(model, as_float)
        self.names = _Names(model)
        self.mode: Dict[Tuple[str, int], str] = {}  # (graph key, node index) -> 'half' | 'float' | 'keep' | 'flow'
        self.clipped = 0

    # -- modes ---------------------------------------------------------------------------------

    def decide_modes(self, g: onnx.GraphProto, scope: _Scope) -> None:
        nodes = list(g.node)
        producer = {o: i for i, n in enumerate(nodes) for o in n.output}
        mode = {}
        for i, n in enumerate(nodes):
            kinds = [scope.type_of(x) for x in list(n.input) + list(n.output) if x]
            has_float = any(k in FLOATS for k in kinds)
            if n.op_type in _FLOW:
                m = 'flow'
            elif self.block_double and DOUBLE in kinds:
                m = 'float' if has_float else 'keep'
            elif not has_float:
                m = 'keep'
            elif n.op_type in self.block_ops:
                m = 'float'
            elif n.op_type in _NORM_CHAIN[0] and any(
                    x in producer and nodes[producer[x]].op_type in _NORM_CHAIN[1]
                    and nodes[producer[x]].op_type in self.block_ops for x in n.input):
                m = 'float'
            else:
                m = 'half'
            mode[i] = m
        # Index arithmetic: trace back from float -> integer/bool results.
        for i, n in enumerate(nodes):
            starts = (n.op_type == 'Cast' and _attr(n, 'to') in INTEGER_TYPES) or \
                     n.op_type in _COMPARE
            if not starts or not any(scope.is_float(x) for x in n.input):
                continue
            if n.op_type != 'Cast':
                mode[i] = 'float'
            stack = [x for x in n.input if scope.is_float(x)]
            while stack:
                p = producer.get(stack.pop())
                if p is None or mode[p] != 'half' or nodes[p].op_type in _HEAVY:
                    continue
                mode[p] = 'float'
                stack.extend(x for x in nodes[p].input if scope.is_float(x))
        for i, m in mode.items():
            self.mode[(scope.key, i)] = m
        for i, n in enumerate(nodes):
            for k, sg in enumerate(_subgraphs(n)):
                key = _key(scope.key, i, k)
                self.decide_modes(sg, _Scope(sg, key, self.types[key], scope))

    # -- formal precisions of subgraphs --------------------------------------------------------

    def _flow_formals(self, n: onnx.NodeProto, index: int, scope: _Scope
                      ) -> Tuple[Dict[int, int], Dict[int, int], List[Tuple[onnx.GraphProto, str, Dict[str, int]]]]:
        """For a Loop/Scan/If node: precision required at each of its float input slots, precision of each float
        output, and each body's formal precisions {name: FLOAT/HALF}."""
        def prec(names_in: List[str], names_out: List[str]) -> int:
            kept = any(x in self.keep_in for x in names_in) or any(x in self.keep_out for x in names_out)
            return FLOAT if kept else HALF

        ins: Dict[int, int] = {}
        outs: Dict[int, int] = {}
        bodies = []
        keys = [_key(scope.key, index, k) for k in range(len(_subgraphs(n)))]
        if n.op_type == 'Loop':
            body = _subgraphs(n)[0]
            bt = self.types[keys[0]]
            formal: Dict[str, int] = {}
            carried = len(body.input) - 2
            for k in range(carried):
                bi, bo = body.input[k + 2].name, body.output[k + 1].name
                if bt.get(bi) in FLOATS:
                    p = prec([bi], [bo, n.output[k]] if k < len(n.output) else [bo])
                    formal[bi] = formal[bo] = p
                    ins[k + 2] = p
                    if k < len(n.output):
                        outs[k] = p
            for j in range(1 + carried, len(body.output)):
                bo = body.output[j].name
                if bt.get(bo) in FLOATS:
                    p = prec([], [bo, n.output[j - 1]])
                    formal[bo] = p
                    outs[j - 1] = p
            bodies.append((body, keys[0], formal))
        elif n.op_type == 'Scan':
            body = _subgraphs(n)[0]
            bt = self.types[keys[0]]
            formal = {}
            for k, vi in enumerate(body.input):
                if bt.get(vi.name) in FLOATS:
                    formal[vi.name] = ins[k] = prec([vi.name], [])
            for j, vo in enumerate(body.output):
                if bt.get(vo.name) in FLOATS:
                    formal[vo.name] = outs[j] = prec([], [vo.name, n.output[j]])
            # A state variable's input and output must agree.
            n_state = len(body.input) - _attr(n, 'num_scan_inputs')
            for k in range(n_state):
                if body.input[k].name in formal:
                    p = min(formal[body.input[k].name], formal[body.output[k].name])  # FLOAT(1) wins
                    formal[body.input[k].name] = formal[body.output[k].name] = ins[k] = outs[k] = p
            bodies.append((body, keys[0], formal))
        else:  # If
            branches = _subgraphs(n)
            for j, o in enumerate(n.output):
                if scope.type_of(o) in FLOATS:
                    outs[j] = prec([], [o] + [b.output[j].name for b in branches])
            for b, key in zip(branches, keys):
                bodies.append((b, key, {b.output[j].name: p for j, p in outs.items()}))
        return ins, outs, bodies

    # -- rewriting -----------------------------------------------------------------------------

    def _convert_value(self, scope: _Scope, name: str, target: int, casts: list) -> str:
        """`name` in precision `target`: the value itself, an initializer's float32 twin, or a Cast (made once)."""
        owner = scope.owner(name)
        if owner is None or owner.prec[name] == target:
            return name
        if name in owner.inits and target == FLOAT:  # float32 twin instead of casting a weight
            if name not in owner.twins:
                twin = self.names.new(name + '__f32')
                values = numpy_helper.to_array(owner.inits[name]).astype(np.float32)
                owner.graph.initializer.add().CopyFrom(numpy_helper.from_array(values, twin))
                owner.twins[name] = twin
            return owner.twins[name]
        key = (name, target)
        if key not in scope.casts:
            out = self.names.new(name + ('__f16' if target == HALF else '__f32'))
            casts.append(helper.make_node('Cast', [name], [out], to=target, name=out))
            scope.casts[key] = out
        return scope.casts[key]

    def convert_graph(self, g: onnx.GraphProto, scope: _Scope, formal: Dict[str, int]) -> None:
        for vi in g.input:
            if scope.is_float(vi.name):
                scope.prec[vi.name] = formal[vi.name]
                vi.type.tensor_type.elem_type = formal[vi.name]
        for init in g.initializer:
            if init.data_type in FLOATS:
                scope.inits[init.name] = init
                scope.prec[init.name] = HALF  # stored as float16 at the end unless only float32 nodes read it
        # Nodes are edited in place and Casts inserted before their readers: no copy of the graph's nodes.
        pos = 0  # where the node of original index `index` now is
        for index in range(len(g.node)):
            n = g.node[pos]
            m = self.mode[(scope.key, index)]
            if m == 'keep':
                pos += 1
                continue
            casts: List[onnx.NodeProto] = []
            ins: Dict[int, int] = {}
            outs: Dict[int, int] = {}
            if m == 'flow':
                ins, outs, bodies = self._flow_formals(n, index, scope)
            for i, x in enumerate(n.input):
                if not scope.is_float(x):
                    continue
                if m == 'flow':
                    need = ins.get(i)
                elif i in _FLOAT32_SLOTS.get(n.op_type, ()):
                    need = FLOAT
                elif n.op_type in _ANY_INPUT:
                    need = None
                else:
                    need = HALF if m == 'half' else FLOAT
                if need is not None:
                    n.input[i] = self._convert_value(scope, x, need, casts)
            if m == 'flow':
                for body, key, body_formal in bodies:
                    self.convert_graph(body, _Scope(body, key, self.types[key], scope), body_formal)
            for j, o in enumerate(n.output):
                if scope.is_float(o):
                    scope.prec[o] = outs[j] if m == 'flow' else (HALF if m == 'half' else FLOAT)
            if m in ('half', 'float'):
                self._float_attributes(n, HALF if m == 'half' else FLOAT)
            for c in casts:
                g.node.insert(pos, c)
                pos += 1
            pos += 1
        # Graph outputs in their formal precision: rename the producer's value and cast it to the output's name.
        for vo in g.output:
            if not scope.is_float(vo.name):
                continue
            want = formal[vo.name]
            have = scope.owner(vo.name).prec[vo.name]
            if have != want:
                if vo.name in scope.inits or any(vi.name == vo.name for vi in g.input):
                    raise NotImplementedError(f'graph output {vo.name} is an input or initializer')
                inner = self.names.new(vo.name + ('__f16' if have == HALF else '__f32'))
                for n in g.node:
                    for j, o in enumerate(n.output):
                        if o == vo.name:
                            n.output[j] = inner
                _rename_reads(g, vo.name, inner)
                g.node.append(helper.make_node('Cast', [inner], [vo.name], to=want, name=vo.name + '__cast'))
                scope.prec[inner] = have
                scope.prec[vo.name] = want
            vo.type.tensor_type.elem_type = want
        # Initializers: float16 (clipped to its range), in place one at a time; float32 twins stay; an initializer
        # that only float32 nodes read (through its twin) is dropped by _drop_unused_initializers.
        for name, init in scope.inits.items():
            if init.data_type == FLOAT:
                arr = numpy_helper.to_array(init)
                self.clipped += int(np.count_nonzero(np.abs(arr) > FP16_MAX))
                init.CopyFrom(numpy_helper.from_array(np.clip(arr, -FP16_MAX, FP16_MAX).astype(np.float16), name))
        del g.value_info[:]  # their types changed; ORT infers them again

    def _float_attributes(self, n: onnx.NodeProto, target: int) -> None:
        """Cast(to=float), ConstantOfShape values and dtype attributes in the node's precision."""
        for a in n.attribute:
            if n.op_type == 'Cast' and a.name == 'to' and a.i in FLOATS:
                a.i = target
            elif n.op_type == 'ConstantOfShape' and a.name == 'value' and a.t.data_type in FLOATS:
                arr = numpy_helper.to_array(a.t).astype(np.float32)
                if target == HALF:
                    arr = np.clip(arr, -FP16_MAX, FP16_MAX).astype(np.float16)
                a.t.CopyFrom(numpy_helper.from_array(arr, a.t.name))
            elif a.name == 'dtype' and a.i in FLOATS:  # EyeLike, Random*
                a.i = target
        if n.op_type == 'ConstantOfShape' and target == HALF and not any(a.name == 'value' for a in n.attribute):
            n.attribute.append(helper.make_attribute('value', numpy_helper.from_array(np.zeros(1, np.float16))))


def check(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnx.checker (full: strict shape inference, so every op's type constraints hold) on the light copy, saved
    beside an empty stub file that its external-data initializers name. value_info stays empty, as the
    exporter writes it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'light.onnx')
        onnx.save(_light_copy(model), path)
        open(os.path.join(tmp, _STUB), 'wb').close()
        onnx.checker.check_model(path, full_check=True)
    return model


def convert_to_fp16(model: onnx.ModelProto, keep_float32_inputs: Optional[Set[str]] = None,
                    keep_float32_outputs: Optional[Set[str]] = None, block_ops: Optional[Iterable[str]] = None,
                    block_double: bool = True) -> onnx.ModelProto:
    """A float16 copy of `model` (see the module docstring). keep_float32_inputs/outputs: float graph inputs and
    outputs (or Loop/Scan/If body inputs/outputs, or the Loop's output names) that stay float32; block_ops: op
    types computed in float32 (DEFAULT_BLOCK_OPS when None); block_double: nodes that read or write float64 run
    unchanged with float32 inputs (the fused loop's sampler)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    as_float: Set[str] = set()
    _constants_to_initializers(m.graph, _reads(m), as_float)
    conv = _Converter(m, set(keep_float32_inputs or ()), set(keep_float32_outputs or ()),
                      set(DEFAULT_BLOCK_OPS if block_ops is None else block_ops), block_double, as_float)
    top = _Scope(m.graph, '', conv.types[''], None)
    conv.decide_modes(m.graph, top)
    formal = {}
    for vi in m.graph.input:
        formal[vi.name] = FLOAT if vi.name in conv.keep_in else HALF
    for vo in m.graph.output:
        formal[vo.name] = FLOAT if vo.name in conv.keep_out else HALF
    conv.convert_graph(m.graph, top, formal)
    _drop_unused_initializers(m.graph, _referenced(m.graph))
    modes = list(conv.mode.values())
    m.metadata_props.append(onnx.StringStringEntryProto(
        key='fp16', value=f'tools/jukebox_model/fp16.py: {modes.count("half")} nodes float16, '
                          f'{modes.count("float")} float32 (blocked), {conv.clipped} constant values clipped to +-65504'))
    return check(m)


def fp16_summary(model: onnx.ModelProto) -> Dict[str, object]:
    """Facts for reports: float32 (blocked) nodes by op type, Casts between float32 and float16, Casts that read
    an initializer (none expected), initializer bytes by type."""
    types = value_types(model)
    blocked: Dict[str, int] = {}
    casts = init_casts = 0
    by_type: Dict[str, int] = {}
    for key, g in _keyed_graphs(model.graph, ''):
        t = types[key]
        inits = {i.name for i in g.initializer}
        for init in g.initializer:
            name = TensorProto.DataType.Name(init.data_type)
            by_type[name] = by_type.get(name, 0) + len(init.raw_data)
        for n in g.node:
            if n.op_type == 'Cast':
                casts += t.get(n.input[0]) in FLOATS and t.get(n.output[0]) in FLOATS
                init_casts += n.input[0] in inits
            elif any(t.get(o) == FLOAT for o in n.output):
                blocked[n.op_type] = blocked.get(n.op_type, 0) + 1
    meta = {p.key: p.value for p in model.metadata_props}
    return {'meta': meta.get('fp16', ''), 'float32Nodes': blocked, 'precisionCasts': casts,
            'castsOfInitializers': init_casts, 'initializerBytes': by_type}


def _keyed_graphs(g: onnx.GraphProto, key: str):
    yield key, g
    for i, n in enumerate(g.node):
        for k, sg in enumerate(_subgraphs(n)):
            yield from _keyed_graphs(sg, _key(key, i, k))


# ----------------------------------------------------------------------------------------------
# float16 emulated in float32 (CPU measurements)


def emulate_fp16_in_float32(model16: onnx.ModelProto) -> onnx.ModelProto:
    """The float16 graph in float32 with float16 rounding: float16 initializers, inputs, outputs and
    Cast/ConstantOfShape targets become float32, and every value a node writes as float16 is written as float32,
    then Cast to float16 and back. Runs on any CPU; accumulations inside a node are float32, as CUDA's fp16
    MatMul (cuBLAS, fp32 compute) does. Inputs must be fed float16-exact values (run it after the emulated
    conditioner); run it without graph optimizations, which may drop the Cast pairs."""
    m = onnx.ModelProto()
    m.CopyFrom(model16)
    types = value_types(m)
    names = _Names(m)

    def walk(g: onnx.GraphProto, key: str) -> None:
        t = types[key]
        for vi in list(g.input) + list(g.output):
            if vi.type.tensor_type.elem_type == HALF:
                vi.type.tensor_type.elem_type = FLOAT
        for init in g.initializer:
            if init.data_type == HALF:
                init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), init.name))
        pos = 0
        for i in range(len(g.node)):
            n = g.node[pos]
            pos += 1
            for a in n.attribute:
                if a.name in ('to', 'dtype') and a.type == onnx.AttributeProto.INT and a.i == HALF:
                    a.i = FLOAT
                elif a.type == onnx.AttributeProto.TENSOR and a.t.data_type == HALF:
                    a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float32), a.t.name))
            for k, sg in enumerate(_subgraphs(n)):
                walk(sg, _key(key, i, k))
            if n.op_type in _FLOW:  # bodies round their own outputs
                continue
            rounding = []
            for j, o in enumerate(list(n.output)):
                if o and t.get(o) == HALF:
                    raw, half = names.new(o + '__x'), names.new(o + '__h')
                    n.output[j] = raw
                    rounding += [helper.make_node('Cast', [raw], [half], to=HALF, name=half),
                                 helper.make_node('Cast', [half], [o], to=FLOAT, name=o + '__r')]
            for c in rounding:
                g.node.insert(pos, c)
                pos += 1
        del g.value_info[:]

    walk(m.graph, '')
    return check(m)
