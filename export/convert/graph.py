"""Small helpers on ``onnx.ModelProto`` shared by the conversion passes (no torch; onnxruntime only inside
:func:`cpu_session`, imported there): a producer/consumer index with constant lookup, pruning, the I/O contract
check every pass must keep, and a quiet in-memory ONNX Runtime CPU session for the passes that measure a graph."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx
from onnx import numpy_helper

from ...runtime.errors import StyleForgeError


def io_signature(model: onnx.ModelProto) -> dict:
    """{'inputs': [(name, elem_type, dims)], 'outputs': [...]}: dims as int or symbolic name (initializers that old
    exporters list as inputs are left out)."""
    inits = {i.name for i in model.graph.initializer}

    def entry(v):
        t = v.type.tensor_type
        dims = [d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else "?")
                for d in t.shape.dim]
        return (v.name, t.elem_type, dims)

    return {"inputs": [entry(v) for v in model.graph.input if v.name not in inits],
            "outputs": [entry(v) for v in model.graph.output]}


def check_same_io(before: onnx.ModelProto, after: onnx.ModelProto, what: str) -> None:
    """Refuse a pass that changed the graph's contract: an input/output name, dtype or symbolic axis."""
    a, b = io_signature(before), io_signature(after)
    for side in ("inputs", "outputs"):
        if [x[0] for x in a[side]] != [x[0] for x in b[side]]:
            raise StyleForgeError(f"{what} changed the graph {side}: {[x[0] for x in a[side]]} -> {[x[0] for x in b[side]]}")
        for (n, t0, d0), (_, t1, d1) in zip(a[side], b[side]):
            if t0 != t1 or d0 != d1:
                raise StyleForgeError(f"{what} changed {n}: type {t0} {d0} -> {t1} {d1}")


class Graph:
    """Producer/consumer index over a model's graph plus constant lookup (initializers and Constant nodes)."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.g = model.graph
        self.reindex()

    def reindex(self) -> None:
        self.inits = {i.name: i for i in self.g.initializer}
        self.producer = {}
        self.consumers = defaultdict(list)
        for n in self.g.node:
            for o in n.output:
                self.producer[o] = n
            for i in n.input:
                if i:
                    self.consumers[i].append(n)
        self.graph_outputs = {o.name for o in self.g.output}

    def const(self, name: str):
        """numpy value of a constant tensor (initializer or Constant node output), else None."""
        if name in self.inits:
            return numpy_helper.to_array(self.inits[name])
        p = self.producer.get(name)
        if p is not None and p.op_type == "Constant":
            a = p.attribute[0]
            if a.name == "value":
                return numpy_helper.to_array(a.t)
            return np.asarray(onnx.helper.get_attribute_value(a))
        return None

    def single_consumer(self, name: str):
        c = self.consumers.get(name, [])
        return c[0] if len(c) == 1 and name not in self.graph_outputs else None

    def add_init(self, name: str, value: np.ndarray) -> str:
        base, k = name, 0
        while name in self.inits or name in self.producer:
            k += 1
            name = f"{base}_{k}"
        t = numpy_helper.from_array(np.ascontiguousarray(value), name)
        self.g.initializer.append(t)
        self.inits[name] = t
        return name

    def remove_nodes(self, nodes) -> None:
        ids = {id(n) for n in nodes}
        keep = [n for n in self.g.node if id(n) not in ids]
        del self.g.node[:]
        self.g.node.extend(keep)
        self.reindex()

    def rename_input(self, old: str, new: str) -> None:
        """Every consumer of tensor `old` reads `new` instead."""
        for n in self.g.node:
            for k, i in enumerate(n.input):
                if i == old:
                    n.input[k] = new
        self.reindex()


def node_reads(node: onnx.NodeProto) -> set[str]:
    """The tensors a node reads: its inputs and, for If/Loop/Scan, every outer tensor its subgraphs read."""
    names = {i for i in node.input if i}
    for a in node.attribute:
        for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else
                    list(a.graphs) if a.type == onnx.AttributeProto.GRAPHS else []):
            for n in sub.node:
                names |= node_reads(n)
    return names


def prune_unused(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop nodes and initializers that no graph output depends on (in place; returns the model). Tensors that an
    If/Loop/Scan subgraph reads from the outer graph count as used."""
    g = model.graph
    needed = {o.name for o in g.output}
    keep = []
    for n in reversed(list(g.node)):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(node_reads(n))
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)
    inits = [i for i in g.initializer if i.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)
    return model


def ensure_node_names(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give every node a unique name (the quantiser and the recipes refer to nodes by name)."""
    seen = set()
    for k, n in enumerate(model.graph.node):
        if not n.name or n.name in seen:
            n.name = f"{n.op_type}_{k}"
        seen.add(n.name)
    return model


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in model.graph.node:
        out[n.op_type] = out.get(n.op_type, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def cpu_session(model: onnx.ModelProto):
    """An ONNX Runtime CPU session on `model` in memory, warnings off: the graph runs the passes and tools make to
    measure a graph (calibration ranges, tiling statistics, int8-ac scores), never the runtime's own runners."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
