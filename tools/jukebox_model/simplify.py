"""Graph clean-up after torch.onnx.export, for speed only (the numbers do not change).

PyTorch traces `x.reshape(b, t, h, dh)` with b, t taken from shapes as a Shape -> Gather -> Unsqueeze -> Concat
chain per Reshape, because batch and positions are dynamic axes. ONNX Reshape copies a dimension given as 0 from
its input, so where each traced dimension is the input's own dimension at the same index (directly, or through a
Transpose), the shape becomes a constant like [0, 0, h, dh] and the chain dies. On CPU these small shape nodes are
a good part of a token's time at the tiny model's widths, and every one runs again in each Loop iteration.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _constant_values(graph: onnx.GraphProto) -> Dict[str, np.ndarray]:
    out = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if n.op_type == 'Constant' and n.attribute and n.attribute[0].name == 'value':
            out[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return out


def _traced_dim(name: str, producer: Dict[str, onnx.NodeProto], const: Dict[str, np.ndarray]) -> Optional[Tuple[str, int]]:
    """(tensor, axis) when `name` is Unsqueeze(Gather(Shape(tensor), axis)) with a scalar axis, else None."""
    u = producer.get(name)
    if u is None or u.op_type != 'Unsqueeze':
        return None
    g = producer.get(u.input[0])
    if g is None or g.op_type != 'Gather' or g.input[1] not in const or const[g.input[1]].ndim != 0:
        return None
    s = producer.get(g.input[0])
    if s is None or s.op_type != 'Shape' or len(s.attribute) > 0:  # start/end attributes would shift the axis
        return None
    return s.input[0], int(const[g.input[1]])


def _same_dim(data: str, i: int, src: str, axis: int, producer: Dict[str, onnx.NodeProto]) -> bool:
    """Whether axis `axis` of `src` is axis `i` of `data`."""
    if src == data:
        return axis == i
    t = producer.get(data)
    if t is not None and t.op_type == 'Transpose' and t.input[0] == src:
        perm = list(helper.get_attribute_value(t.attribute[0]))
        return i < len(perm) and perm[i] == axis
    return False


def static_reshapes(model: onnx.ModelProto) -> int:
    """Rewrites traced Reshape shapes to constants with 0 for copied dimensions; drops dead nodes. Returns how many."""
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    const = _constant_values(graph)
    rewritten = 0
    for n in graph.node:
        if n.op_type != 'Reshape' or any(a.name == 'allowzero' and a.i for a in n.attribute):
            continue
        data, shape = n.input[0], n.input[1]
        concat = producer.get(shape)
        if concat is None or concat.op_type != 'Concat':
            continue
        dims: List[int] = []
        for part in concat.input:
            if part in const:
                dims.extend(int(v) for v in np.asarray(const[part]).reshape(-1))
                continue
            traced = _traced_dim(part, producer, const)
            if traced is None or not _same_dim(data, len(dims), traced[0], traced[1], producer):
                dims = []
                break
            dims.append(0)
        if not dims or dims.count(-1) > 1 or (0 not in dims):
            continue
        name = f'{n.name or n.output[0]}/static_shape'
        graph.initializer.append(numpy_helper.from_array(np.array(dims, dtype=np.int64), name))
        n.input[1] = name
        rewritten += 1
    _drop_dead_nodes(graph)
    return rewritten


def _drop_dead_nodes(graph: onnx.GraphProto) -> None:
    needed = {o.name for o in graph.output}
    keep: List[onnx.NodeProto] = []
    for n in reversed(list(graph.node)):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(n.input)
            for a in n.attribute:  # subgraphs read outer values by name
                if a.type == onnx.AttributeProto.GRAPH:
                    needed.update(_outer_reads(a.g))
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    used = needed
    inits = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def _outer_reads(g: onnx.GraphProto) -> set:
    names = set()
    for n in g.node:
        names.update(n.input)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                names.update(_outer_reads(a.g))
    return names
