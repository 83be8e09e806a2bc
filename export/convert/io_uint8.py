"""In-graph uint8 N×H×W×3 image I/O: wrap an ONNX image graph so that it takes and returns uint8 RGB pictures
itself, doing inside the graph exactly what the runtime does around it (runtime/io_plan.py) — so serving systems
(Triton, ONNX Runtime Web, mobile) need no pre- or post-processing. Used by ``styleforge convert --io uint8-nhwc``
and by ``styleforge triton`` (export/triton/writer.py).

:func:`wrap_uint8_nhwc` — exact semantics. Each image tensor is described by the runtime's own
:class:`~styleforge.runtime.io_plan.ImageIO` (layout NCHW/NHWC, dtype, value range [lo, hi], channel order RGB/BGR,
per-channel mean/std), whose float32 constants the graph uses. Per image input ``x`` (uint8 N×H×W×3 RGB):

1. **pad** (``multiple_of`` m > 1) bottom and right by ``ph = (−H) mod m``, ``pw = (−W) mod m``, on uint8 NHWC, in
   mode ``reflect`` when ``ph < H and pw < W``, else ``edge`` (an ``If`` node decides at run time) — the rule of
   ``runtime.io_plan.pad_batch`` / ``runtime.images.pad_to_multiple``. Every image input is padded by its own size.
2. **channel order** (BGR graphs): ``Gather`` [2, 1, 0] on the channel axis, on uint8 (``batch[..., ::-1]``).
3. **layout**: ``Transpose`` NHWC → NCHW on uint8 (4× less traffic than on float) for NCHW graphs.
4. **scale** as ``ImageIO.encode``: ``Cast`` float32, ``Mul`` by ``in_scale`` = float32((hi − lo)/255) (left out
   when 1), ``Cast`` to the graph's type (float16 graphs: the product rounded once, as numpy does), ``Add`` lo in
   the graph's type (left out when 0). *Normalised* graphs (mean/std) instead: ``Cast`` float32, ``Mul`` a, ``Add``
   b per channel with ImageIO's float32 a = (hi − lo)/255/std, b = (lo − mean)/std (``batch · a + b``), ``Cast`` to
   the graph's type. A uint8 graph input gets no scaling.
   *int8 fast path*: a [0, 255] input without mean/std that feeds only ``QuantizeLinear`` nodes with scale 1 and
   uint8 zero point 0 (quantised exactly) gets the uint8 tensor in place of those nodes' outputs (bit-identical; no
   Cast, no Q).

Per image output ``y``, as ``ImageIO.decode``: **crop** to s·H × s·W, H×W the size of ``crop_to`` (the first image
input unless named) before padding and s the graph's output ``scale`` (``size_constraints.scale``; none for
generators, nor without padding: the output is then s·H × s·W already), ``Cast`` float32 (fp16 outputs),
``(y − lo) · out_scale`` with out_scale = float32(255/(hi − lo)) (left out for [0, 255]) — or, normalised,
``(y − b) / a`` per channel —, **clamp** ``Clip(0, 255)``, **round** half to even (``Round``, as ``numpy.rint``),
``Cast`` uint8, ``Transpose`` NCHW → NHWC on uint8, and BGR outputs ``Gather`` [2, 1, 0] back to RGB on uint8 (the
runtime flips before its per-channel arithmetic, here after: a permutation, the same numbers).

The tensors keep their names; their shapes become [batch, height, width, channels]; other inputs (``style_index``,
``z``, statistics) are untouched. Tensors already uint8 NHWC RGB with nothing to pad or crop are left as they are.
The result equals ``model(image)`` of the runtime on the float graph bit for bit (tests/test_uint8_io_imports.py).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ...runtime.errors import StyleForgeError
from ...runtime.io_plan import ImageIO, image_io
from .graph import Graph, prune_unused

#: ONNX element types an image tensor may have, as ImageIO dtypes
_ELEM = {TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16", TensorProto.UINT8: "uint8"}


def image_tensors(graph) -> tuple[dict[str, ImageIO], dict[str, ImageIO]]:
    """A manifest graph's image inputs and outputs, {name: ImageIO}: 4-D float tensors annotated with an image layout
    and a value range (a generator's ``activation`` has a layout but no range: not an image)."""
    def pick(specs):
        return {t.name: image_io(t) for t in specs
                if t.layout and t.range and t.layout.upper() in ("NCHW", "NHWC") and len(t.shape) == 4
                and t.dtype.startswith("float")}

    return pick(graph.inputs), pick(graph.outputs)


def _dims(v) -> list:
    return [d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else None)
            for d in v.type.tensor_type.shape.dim]


def _nhwc_dims(v, layout: str) -> list:
    """[batch, height, width, channels] of a 4-D tensor in `layout` (symbolic names kept; 3 channels if unknown)."""
    d = _dims(v)
    n, h, w, c = (d[0], d[2], d[3], d[1]) if layout == "NCHW" else d
    return [n or "batch", h or "height", w or "width", c if isinstance(c, int) and c > 0 else 3]


def _pad_branch(mode: str, x: str, pads: str, out: str) -> onnx.GraphProto:
    return helper.make_graph([helper.make_node("Pad", [x, pads], [out], mode=mode, name=out)], out, [],
                             [helper.make_tensor_value_info(out, TensorProto.UINT8, None)])


class _Builder:
    """Nodes and constants added around the graph, every name prefixed with its tensor's name."""

    def __init__(self, model: onnx.ModelProto):
        self.g = model.graph
        self.front: list = []
        self.back: list = []

    def const(self, name: str, value) -> str:
        self.g.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, where: list, op: str, inputs: list, output: str, **attrs) -> str:
        where.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output


def _pad_to_multiple(b: _Builder, name: str, x: str, m: int) -> tuple[str, str]:
    """Pad uint8 N×H×W×C tensor `x` to multiples of `m` as the runtime does; returns (padded, its original [H, W])."""
    t = lambda s: f"{name}__{s}"  # noqa: E731
    f = b.front
    shape = b.node(f, "Shape", [x], t("shape"))
    hw = b.node(f, "Slice", [shape, b.const(t("i1"), np.array([1], np.int64)), b.const(t("i3"), np.array([3], np.int64))],
                t("hw"))
    neg = b.node(f, "Neg", [hw], t("neg_hw"))
    pad_hw = b.node(f, "Mod", [neg, b.const(t("m"), np.array([m], np.int64))], t("pad_hw"), fmod=0)
    pads = b.node(f, "Concat", [b.const(t("z5"), np.zeros(5, np.int64)), pad_hw, b.const(t("z1"), np.zeros(1, np.int64))],
                  t("pads"), axis=0)
    # reflect needs pad < side on both axes, else edge (runtime.io_plan.pad_batch)
    lt = b.node(f, "Less", [pad_hw, hw], t("pad_lt_side"))
    lt_h = b.node(f, "Gather", [lt, b.const(t("k0"), np.array(0, np.int64))], t("pad_lt_h"), axis=0)
    lt_w = b.node(f, "Gather", [lt, b.const(t("k1"), np.array(1, np.int64))], t("pad_lt_w"), axis=0)
    both = b.node(f, "And", [lt_h, lt_w], t("reflect"))
    padded = b.node(f, "If", [both], t("padded"), then_branch=_pad_branch("reflect", x, pads, t("reflected")),
                    else_branch=_pad_branch("edge", x, pads, t("edged")))
    return padded, hw


def _flip_channels(b: _Builder, where: list, x: str, out: str) -> str:
    """uint8 N×H×W×3 `x` with its channels reversed (RGB ↔ BGR: ``[..., ::-1]``)."""
    return b.node(where, "Gather", [x, b.const(out + "_order", np.array([2, 1, 0], np.int64))], out, axis=3)


def _per_channel(io: ImageIO) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of ``value = grey · a + b`` per graph channel: ImageIO's very float32 constants (its ``_affine``),
    shaped to broadcast over the tensor's layout."""
    a, c = io._affine  # the private property is the runtime's single source of these constants
    shape = (1, 3, 1, 1) if io.layout == "NCHW" else (3,)
    return a.reshape(shape), c.reshape(shape)


def _exact_quant_consumers(g: Graph, tensor: str) -> list | None:
    """The QuantizeLinear nodes reading `tensor` when they are all its consumers and quantise exactly (scale 1, uint8
    zero point 0: q = x for whole grey levels), else None."""
    cons = g.consumers.get(tensor, [])

    def exact(q) -> bool:
        if q.op_type != "QuantizeLinear" or len(q.input) != 3:
            return False
        scale, zp = g.const(q.input[1]), g.const(q.input[2])
        return (scale is not None and np.size(scale) == 1 and float(np.asarray(scale).reshape(())) == 1.0
                and zp is not None and zp.dtype == np.uint8 and np.size(zp) == 1 and int(np.asarray(zp).reshape(())) == 0)

    return cons if cons and tensor not in g.graph_outputs and all(exact(q) for q in cons) else None


def _image_tensor(values, name: str, side: str):
    """The graph's 4-D image `side` tensor `name` (a ValueInfo) and its element type, or a one-line error."""
    v = next((x for x in values if x.name == name), None)
    if v is None or len(_dims(v)) != 4:
        raise StyleForgeError(f"uint8 NHWC I/O: {name} is not a 4-D image {side} of this graph")
    elem = v.type.tensor_type.elem_type
    if elem not in _ELEM:
        raise StyleForgeError(f"uint8 NHWC I/O: {name} is {TensorProto.DataType.Name(elem).lower()}; image {side}s must "
                              "be float32, float16 or uint8")
    return v, elem


def _wrap_input(b: _Builder, model: onnx.ModelProto, io: ImageIO, multiple_of: int, fuse_exact_quant: bool):
    """Rewire graph input `io.name` behind the uint8 NHWC one; returns its original [H, W] tensor (None: not padded)."""
    name = io.name
    v, elem = _image_tensor(b.g.input, name, "input")
    if elem == TensorProto.UINT8 and io.layout == "NHWC" and multiple_of <= 1 and not io.bgr:
        return None  # already what the wrapper would give
    inner = name + "__graph_in"
    Graph(model).rename_input(name, inner)
    v.CopyFrom(helper.make_tensor_value_info(name, TensorProto.UINT8, _nhwc_dims(v, io.layout)))
    x, hw = name, None
    if multiple_of > 1:
        x, hw = _pad_to_multiple(b, name, x, multiple_of)
    if io.bgr:  # ImageIO.encode: batch[..., ::-1], on uint8 before anything else
        x = _flip_channels(b, b.front, x, name + "__bgr")
    if io.layout == "NCHW":
        x = b.node(b.front, "Transpose", [x], name + "__nchw", perm=[0, 3, 1, 2])
    g = Graph(model)
    exact = (io.lo, io.hi) == (0.0, 255.0) and io.mean is None
    quant = _exact_quant_consumers(g, inner) if fuse_exact_quant and exact else None
    if quant is not None:
        for q in quant:
            g.rename_input(q.output[0], x)
        g.remove_nodes(quant)
        return hw
    if elem != TensorProto.UINT8 and io.mean is not None:  # ImageIO.encode: float32(x · a + b) in the graph's type
        a, c = _per_channel(io)
        x = b.node(b.front, "Cast", [x], name + "__float", to=TensorProto.FLOAT)
        x = b.node(b.front, "Mul", [x, b.const(name + "__norm_a", a)], name + "__norm_scaled")
        x = b.node(b.front, "Add", [x, b.const(name + "__norm_b", c)], name + "__normalised")
        if elem != TensorProto.FLOAT:
            x = b.node(b.front, "Cast", [x], name + "__typed", to=elem)
    elif elem != TensorProto.UINT8:  # ImageIO.encode: float32(x · in_scale) in the graph's type, + lo in that type
        scaled = io.in_scale != 1.0
        x = b.node(b.front, "Cast", [x], name + "__float", to=TensorProto.FLOAT if scaled else elem)
        if scaled:
            x = b.node(b.front, "Mul", [x, b.const(name + "__in_scale", io.in_scale)], name + "__scaled")
            if elem != TensorProto.FLOAT:
                x = b.node(b.front, "Cast", [x], name + "__typed", to=elem)
        if io.lo:
            lo = np.asarray(io.lo, helper.tensor_dtype_to_np_dtype(elem))
            x = b.node(b.front, "Add", [x, b.const(name + "__lo", lo)], name + "__shifted")
    b.node(b.front, "Identity", [x], inner)
    return hw


def _wrap_output(b: _Builder, io: ImageIO, crop_hw: str | None) -> None:
    name = io.name
    v, elem = _image_tensor(b.g.output, name, "output")
    if elem == TensorProto.UINT8 and io.layout == "NHWC" and crop_hw is None and not io.bgr:
        return
    inner = name + "__graph_out"
    for node in b.g.node:
        node.output[:] = [inner if o == name else o for o in node.output]
        node.input[:] = [inner if i == name else i for i in node.input]
    x, k = inner, b.back
    if crop_hw is not None:  # ImageIO.decode: crop first
        axes = [2, 3] if io.layout == "NCHW" else [1, 2]
        x = b.node(k, "Slice", [x, b.const(name + "__c0", np.zeros(2, np.int64)), crop_hw,
                                b.const(name + "__cax", np.array(axes, np.int64))], name + "__cropped")
    if elem != TensorProto.UINT8:  # ImageIO.to_unit255 then clip, rint, uint8
        if elem != TensorProto.FLOAT:
            x = b.node(k, "Cast", [x], name + "__f32", to=TensorProto.FLOAT)
        if io.mean is not None:  # ImageIO.to_unit255: (y − b) / a per graph channel, float32
            a, c = _per_channel(io)
            x = b.node(k, "Sub", [x, b.const(name + "__norm_b", c)], name + "__unshifted")
            x = b.node(k, "Div", [x, b.const(name + "__norm_a", a)], name + "__grey")
        elif io.lo or io.out_scale != 1.0:
            x = b.node(k, "Sub", [x, b.const(name + "__lo", np.float32(io.lo))], name + "__unshifted")
            x = b.node(k, "Mul", [x, b.const(name + "__out_scale", io.out_scale)], name + "__grey")
        x = b.node(k, "Clip", [x, b.const(name + "__min", np.float32(0)), b.const(name + "__max", np.float32(255))],
                   name + "__clipped")
        x = b.node(k, "Round", [x], name + "__rounded")
        x = b.node(k, "Cast", [x], name + "__u8", to=TensorProto.UINT8)
    if io.layout == "NCHW":
        x = b.node(k, "Transpose", [x], name + "__nhwc", perm=[0, 2, 3, 1])
    if io.bgr:  # ImageIO.to_unit255: hwc[..., ::-1] (a permutation: on uint8, after the per-channel arithmetic)
        x = _flip_channels(b, k, x, name + "__rgb")
    if k and k[-1].output[0] == x:  # the last step writes the graph output itself
        k[-1].output[0] = k[-1].name = name
    else:
        b.node(k, "Identity", [x], name)
    v.CopyFrom(helper.make_tensor_value_info(name, TensorProto.UINT8, _nhwc_dims(v, io.layout)))


def wrap_uint8_nhwc(model: onnx.ModelProto, inputs: Sequence[ImageIO] = (), outputs: Sequence[ImageIO] = (), *,
                    multiple_of: int = 1, crop_to: str | None = None, scale: int = 1,
                    fuse_exact_quant: bool = True) -> onnx.ModelProto:
    """A copy of `model` with uint8 N×H×W×3 I/O for the image tensors `inputs` and `outputs` (module docstring),
    checked by onnx.checker (full check). `multiple_of`: pad every image input to it in the graph and crop the
    outputs back to `scale` × the size of input `crop_to` (default: the first of `inputs`). Generators: no `inputs`."""
    if int(scale) != scale or scale < 1:
        raise StyleForgeError(f"uint8 NHWC I/O: scale {scale!r} must be a whole number of at least 1")
    m = copy.deepcopy(model)
    b = _Builder(m)
    names = [io.name for io in inputs]
    if crop_to is not None and crop_to not in names:
        raise StyleForgeError(f"uint8 NHWC I/O: crop_to {crop_to!r} is not one of the wrapped inputs {names}")
    crop_hw = None
    for io in inputs:
        hw = _wrap_input(b, m, io, multiple_of, fuse_exact_quant)
        if io.name == (crop_to or names[0]):
            crop_hw = hw
    if crop_hw is not None and scale != 1:  # ImageIO.decode(y, (h · s, w · s))
        crop_hw = b.node(b.front, "Mul", [crop_hw, b.const(crop_hw + "_scale", np.array([int(scale)] * 2, np.int64))],
                         f"{crop_hw}_x{int(scale)}")
    for io in outputs:
        _wrap_output(b, io, crop_hw)
    nodes = b.front + list(m.graph.node) + b.back
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    del m.graph.value_info[:]  # renamed tensors' shapes are stale; shape inference recomputes them
    m = prune_unused(m)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx") and o.version < 11:  # Pad with a pads input, Round
            o.version = 11
    try:
        onnx.checker.check_model(m, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise StyleForgeError(f"uint8 NHWC I/O produced an invalid graph ({(str(e).splitlines() or [''])[0]})") from None
    return m


def io_of(graph, input_name: str | None, output_name: str) -> tuple[list[ImageIO], list[ImageIO]]:
    """([ImageIO] of the named image input (none when None), [ImageIO] of the named output) of a manifest graph,
    exactly as the runtime's interfaces read them (``image_io``: NCHW float32 [0, 255] where unannotated)."""
    return ([image_io(graph.input(input_name))] if input_name else []), [image_io(graph.output(output_name))]
