"""fp16 variant: precision lives in the graph (TensorRT 10+ has no FP16 builder flag for strongly typed networks,
and ONNX Runtime runs what the graph says).

Weights and activations are fp16; normalisation statistics, reductions and WCT linear algebra stay fp32 with
explicit Casts (:data:`FP32_OPS`: instance/batch/layer/group norm, every Reduce*, MatMul/Gemm/Einsum — covariances,
Newton–Schulz, colouring —, Sqrt/Reciprocal/Pow/Div of the whitening maths, Softmax, index arithmetic), and so do
the element-wise ops fed by that linear algebra (:data:`STICKY_FP32`) until the next convolution. Graph
inputs and outputs stay fp32 (``keep_io_types``), so callers and the golden cases are unchanged.

StyleForge's own converter rather than onnxconverter_common.float16 (1.16): that one needs its value_info dropped
first (else Casts it inserts after blocked nodes carry the wrong declared type) and turns Resize's ``scales``
into fp16 (an invalid graph). Here every float node outside the block list computes in fp16, float initializers
are stored in the precision of the nodes that read them (both copies when both kinds read one), one Cast per
(tensor, target precision) is inserted where a tensor's precision differs from its consumer's, and shape-like
inputs (Resize scales, Pad pads, Reshape shapes, …) are never touched.

:func:`fp16_fallback_ops` says which fp16 ops ONNX Runtime CPU has no kernel for (it inserts Casts and computes
them in fp32 — silently); validation reports that plainly (runtime/validation.py).
"""
from __future__ import annotations

import copy

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FP32_OPS = ("InstanceNormalization", "BatchNormalization", "LayerNormalization", "GroupNormalization",
            "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceL1",
            "ReduceLogSumExp", "MatMul", "Gemm", "Einsum", "Sqrt", "Reciprocal", "Pow", "Div", "Softmax", "EyeLike",
            "Range", "CumSum", "TopK", "ArgMax", "ArgMin", "NonZero", "Trilu", "Resize", "Upsample")

#: fp32 ops whose results stay fp32 downstream (the "linear-algebra region"): element-wise ops fed by them compute
#: in fp32 too until the next convolution. Measured: without this, the element-wise steps of Newton–Schulz and
#: the centring of WCT features ran in fp16 and the level-1 colouring matrix of a 512² style came out 100 % off
#: (five-level bundle, encode_style golden case, PSNR 18.6 dB); norms are not in this set — their outputs go back
#: to fp16 for the next layer.
STICKY_FP32 = ("ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
               "ReduceL1", "ReduceLogSumExp", "MatMul", "Gemm", "Einsum", "Sqrt", "Reciprocal", "Pow", "Div", "EyeLike",
               "CumSum", "Trilu")
#: ops that always compute in fp16 (they end an fp32 region)
FP16_ANCHORS = ("Conv", "ConvTranspose")

#: inputs that keep their own type whatever the node's precision: (op_type, input index)
_TYPED_INPUTS = {("Resize", 1), ("Resize", 2), ("Resize", 3), ("Pad", 1), ("Pad", 3), ("Reshape", 1), ("Slice", 1),
                 ("Slice", 2), ("Slice", 3), ("Slice", 4), ("Expand", 1), ("Tile", 1), ("Unsqueeze", 1), ("Squeeze", 1),
                 ("ConstantOfShape", 0), ("Gather", 1), ("Split", 1), ("ReduceMean", 1), ("ReduceSum", 1),
                 ("Upsample", 1), ("TopK", 1), ("Range", 0), ("Range", 1), ("Range", 2), ("Trilu", 1)}
F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def _declared_types(model: onnx.ModelProto) -> dict[str, int]:
    """{tensor: elem type} of the fp32 graph, from shape inference, its I/O and its initializers."""
    inf = onnx.shape_inference.infer_shapes(model)
    dtype = {v.name: v.type.tensor_type.elem_type for v in list(inf.graph.value_info) + list(inf.graph.input)
             + list(inf.graph.output)}
    dtype.update({i.name: i.data_type for i in model.graph.initializer})
    return dtype


def _constants_to_initializers(g: onnx.GraphProto, dtype: dict) -> dict[str, onnx.TensorProto]:
    """Constant nodes become initializers (so weights are handled alike); returns {name: initializer}."""
    inits = {i.name: i for i in g.initializer}
    for n in [n for n in g.node if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"]:
        t = onnx.TensorProto()
        t.CopyFrom(n.attribute[0].t)
        t.name = n.output[0]
        g.initializer.append(t)
        inits[t.name] = t
        dtype[t.name] = t.data_type
        g.node.remove(n)
    return inits


class _Retyper:
    """Gives each node input the precision its node computes in: fp16 copies of fp32 initializers (one per
    initializer) and one Cast per (tensor, target precision); tracks every tensor's dtype in the new graph."""

    def __init__(self, g: onnx.GraphProto, inits: dict, dtype: dict):
        self.g, self.inits, self.dtype = g, inits, dtype
        self.cur = {v.name: v.type.tensor_type.elem_type for v in g.input}   # tensor -> its dtype in the new graph
        self.init16: dict[str, str] = {}
        self.casts: dict[tuple, str] = {}
        self.nodes: list = []

    def as_type(self, name: str, target: int) -> str:
        if name in self.inits and self.inits[name].data_type == F32:
            if target == F32:
                return name
            if name not in self.init16:
                a16 = np.clip(numpy_helper.to_array(self.inits[name]), -65504, 65504).astype(np.float16)
                t = numpy_helper.from_array(a16, name + "__fp16")
                self.g.initializer.append(t)
                self.init16[name] = t.name
            return self.init16[name]
        have = self.cur.get(name, self.dtype.get(name))
        if have not in (F32, F16) or have == target:
            return name
        key = (name, target)
        if key not in self.casts:
            out = f"{name}__to{'16' if target == F16 else '32'}"
            self.nodes.append(helper.make_node("Cast", [name], [out], to=target, name=out))
            self.cur[out] = target
            self.casts[key] = out
        return self.casts[key]

    def is_float(self, n) -> bool:
        return any(self.dtype.get(i) in (F32, F16) or self.cur.get(i) in (F32, F16) for i in n.input if i)

    def add(self, n, target: int) -> None:
        """Retype `n`'s inputs and attributes to `target`, append it, record its outputs' dtypes."""
        is_float = self.is_float(n)
        if is_float and n.op_type != "Cast":
            for k, i in enumerate(n.input):
                if i and (n.op_type, k) not in _TYPED_INPUTS:
                    n.input[k] = self.as_type(i, target)
        for a in n.attribute:  # ConstantOfShape-like value attributes follow the node
            if a.name == "value" and a.t.data_type == F32 and target == F16 and is_float:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16)))
        self.nodes.append(n)
        for o in n.output:
            if not o:
                continue
            if n.op_type == "Cast":
                self.cur[o] = next(a.i for a in n.attribute if a.name == "to")
            elif self.dtype.get(o) in (F32, F16) and is_float:
                self.cur[o] = target
            else:
                self.cur[o] = self.dtype.get(o)


def to_fp16(model: onnx.ModelProto, *, block_ops=FP32_OPS, keep_io_types: bool = True) -> onnx.ModelProto:
    """The fp16 graph of an fp32 `model` (module docstring)."""
    m = copy.deepcopy(model)
    g = m.graph
    del g.value_info[:]
    block = set(block_ops)
    dtype = _declared_types(model)
    r = _Retyper(g, _constants_to_initializers(g, dtype), dtype)
    region: set[str] = set()   # tensors of the fp32 linear-algebra region
    for n in list(g.node):
        in_region = any(i in region for i in n.input if i and i not in r.inits)
        if n.op_type in block or n.op_type == "Cast":
            target = F32
        elif n.op_type in FP16_ANCHORS:
            target = F16
        else:
            target = F32 if in_region else F16
        if n.op_type in STICKY_FP32 or (target == F32 and in_region and n.op_type not in block):
            region.update(o for o in n.output if o)
        r.add(n, target)
    for v in g.output:  # graph outputs back to fp32
        if r.cur.get(v.name) == F16 and keep_io_types:
            inner = v.name + "__fp16out"
            for n in r.nodes:
                n.output[:] = [inner if o == v.name else o for o in n.output]
                n.input[:] = [inner if i == v.name else i for i in n.input]
            r.nodes.append(helper.make_node("Cast", [inner], [v.name], to=F32, name=v.name + "__to32"))
    del g.node[:]
    g.node.extend(r.nodes)
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(m)
    return onnx.shape_inference.infer_shapes(m)


def fp16_op_types(model: onnx.ModelProto) -> list[str]:
    """Op types that compute on fp16 tensors in `model` (besides Cast)."""
    inf = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in list(inf.graph.value_info) + list(inf.graph.input)
             + list(inf.graph.output)}
    types.update({i.name: i.data_type for i in inf.graph.initializer})
    return sorted({n.op_type for n in inf.graph.node if n.op_type != "Cast" and
                   any(types.get(t) == F16 for t in list(n.input) + list(n.output) if t)})
