"""``--io uint8-nhwc``: wrap an image graph so that it takes and returns N×H×W×3 uint8 itself, with its scaling,
layout, padding and clamping inside — serving systems (Triton, ONNX Runtime Web, mobile) then need no pre- or
post-processing.

:func:`wrap_uint8_nhwc` — exact semantics, per image input ``x`` (N×H×W×3 uint8, RGB) and image output ``y``:

1. **pad to a multiple** (``pad_multiple`` m > 1): H and W are reflect-padded at the bottom and right up to the
   next multiple of m (pad_h = (−H) mod m, likewise W), on the uint8 tensor, before anything else; the
   outputs are cropped back to H×W (``Slice`` of the first image input's original H and W) before clamping.
   Reflect padding needs pad < side, i.e. sides of at least m (the bundle's ``min_side``).
2. **layout**: ``Transpose`` NHWC → NCHW on uint8 (4× less memory traffic than on float), skipped for graphs whose
   own layout is NHWC.
3. **scale**: ``Cast`` to the graph input's float type, then ``x · (hi − lo)/255 + lo`` for a graph whose image
   range is [lo, hi] (nothing for [0, 255]; ×1/255 for [0, 1]; ×2/255 − 1 for [−1, 1]).
   When that float input feeds only QuantizeLinear nodes with scale 1, zero point 0 and uint8 type (an int8
   graph whose input was quantised exactly), the Cast and those nodes are dropped: the uint8 tensor is fed to
   their consumers as is (bit-identical result).
4. output: **scale back** ``(y − lo) · 255/(hi − lo)`` (nothing for [0, 255]), Cast to float32 if the graph's
   output is fp16, crop (step 1), **clamp** ``Clip(0, 255)``, **round** ``Round`` (half to even, as numpy.rint),
   ``Cast`` uint8, then ``Transpose`` NCHW → NHWC on uint8.

The tensors keep their names; their shapes become [batch, height, width, 3]. Identical, value for value, to what
the runtime does in numpy (runtime/io_plan.py: pad on uint8, scale, run, scale back, crop, clip, rint, uint8).
"""
from __future__ import annotations

import copy

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ...runtime.errors import StyleForgeError
from .graph import Graph, prune_unused


def _dims(v) -> list:
    return [d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else None)
            for d in v.type.tensor_type.shape.dim]


def wrap_uint8_nhwc(model: onnx.ModelProto, images: dict[str, tuple[str, float, float]],
                    outputs: dict[str, tuple[str, float, float]], *, pad_multiple: int = 1,
                    fuse_exact_quant: bool = True) -> onnx.ModelProto:
    """The wrapped graph (module docstring). `images` / `outputs`: {tensor name: (layout "NCHW"|"NHWC", lo, hi)}
    of the graph's image inputs and outputs."""
    m = copy.deepcopy(model)
    g = m.graph
    front, back = [], []
    consts: dict[str, str] = {}

    def const(name: str, value) -> str:
        g.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    crop_hw = None
    for name, (layout, lo, hi) in images.items():
        v = next((x for x in g.input if x.name == name), None)
        if v is None or len(_dims(v)) != 4:
            raise StyleForgeError(f"--io uint8-nhwc: {name} is not a 4-D image input of this graph")
        elem = v.type.tensor_type.elem_type
        d = _dims(v)
        n_, h_, w_ = (d[0], d[2], d[3]) if layout == "NCHW" else (d[0], d[1], d[2])
        inner = name + "__graph_in"
        Graph(m).rename_input(name, inner)
        v.CopyFrom(helper.make_tensor_value_info(name, TensorProto.UINT8, [n_ or "batch", h_ or "height", w_ or "width", 3]))
        src = name
        if pad_multiple > 1:
            full, shp, neg, rem, pads = (name + s for s in ("__fullshape", "__hw", "__neg", "__rem", "__pads"))
            front += [helper.make_node("Shape", [name], [full], name=full),
                      helper.make_node("Slice", [full, const(name + "__s1", np.array([1], np.int64)),
                                                 const(name + "__s3", np.array([3], np.int64))], [shp], name=shp),
                      helper.make_node("Neg", [shp], [neg], name=neg),
                      helper.make_node("Mod", [neg, const(name + "__m", np.array([pad_multiple], np.int64))], [rem],
                                       fmod=0, name=rem),
                      helper.make_node("Concat", [const(name + "__z5", np.zeros(5, np.int64)), rem,
                                                  const(name + "__z1", np.zeros(1, np.int64))], [pads], axis=0, name=pads),
                      helper.make_node("Pad", [name, pads], [name + "__padded"], mode="reflect", name=name + "__pad")]
            src = name + "__padded"
            if crop_hw is None:
                crop_hw = shp
        if layout == "NCHW":
            front.append(helper.make_node("Transpose", [src], [name + "__nchw"], perm=[0, 3, 1, 2], name=name + "__to_nchw"))
            src = name + "__nchw"
        gg = Graph(m)
        cons = gg.consumers.get(inner, [])
        exact = fuse_exact_quant and (lo, hi) == (0.0, 255.0) and cons and all(
            q.op_type == "QuantizeLinear" and len(q.input) == 3 and gg.const(q.input[1]) is not None
            and np.size(gg.const(q.input[1])) == 1 and float(np.asarray(gg.const(q.input[1])).reshape(())) == 1.0
            and gg.const(q.input[2]) is not None and gg.const(q.input[2]).dtype == np.uint8
            and int(np.asarray(gg.const(q.input[2])).reshape(())) == 0 for q in cons)
        if exact:
            for q in cons:
                gg.rename_input(q.output[0], src)
            gg.remove_nodes(cons)
            continue
        f = name + "__float"
        front.append(helper.make_node("Cast", [src], [f], to=elem, name=f))
        scale = (hi - lo) / 255.0
        np_t = helper.tensor_dtype_to_np_dtype(elem)
        if scale != 1.0:
            front.append(helper.make_node("Mul", [f, const(name + "__scale", np.array(scale, np_t))], [name + "__scaled"]))
            f = name + "__scaled"
        if lo:
            front.append(helper.make_node("Add", [f, const(name + "__lo", np.array(lo, np_t))], [name + "__shifted"]))
            f = name + "__shifted"
        front.append(helper.make_node("Identity", [f], [inner], name=inner))

    for name, (layout, lo, hi) in outputs.items():
        v = next((x for x in g.output if x.name == name), None)
        if v is None or len(_dims(v)) != 4:
            raise StyleForgeError(f"--io uint8-nhwc: {name} is not a 4-D image output of this graph")
        d = _dims(v)
        n_, h_, w_ = (d[0], d[2], d[3]) if layout == "NCHW" else (d[0], d[1], d[2])
        inner = name + "__graph_out"
        for node in g.node:
            node.output[:] = [inner if o == name else o for o in node.output]
            node.input[:] = [inner if i == name else i for i in node.input]
        x = inner
        if v.type.tensor_type.elem_type != TensorProto.FLOAT:
            back.append(helper.make_node("Cast", [x], [name + "__f32"], to=TensorProto.FLOAT))
            x = name + "__f32"
        if (lo, hi) != (0.0, 255.0):
            if lo:
                back.append(helper.make_node("Sub", [x, const(name + "__lo", np.array(lo, np.float32))], [name + "__unshift"]))
                x = name + "__unshift"
            back.append(helper.make_node("Mul", [x, const(name + "__unscale", np.array(255.0 / (hi - lo), np.float32))],
                                         [name + "__unscaled"]))
            x = name + "__unscaled"
        if crop_hw is not None:
            axes = [2, 3] if layout == "NCHW" else [1, 2]
            back.append(helper.make_node("Slice", [x, const(name + "__c0", np.zeros(2, np.int64)), crop_hw,
                                                   const(name + "__cax", np.array(axes, np.int64))], [name + "__cropped"]))
            x = name + "__cropped"
        back += [helper.make_node("Clip", [x, const(name + "__min", np.array(0.0, np.float32)),
                                           const(name + "__max", np.array(255.0, np.float32))], [name + "__clip"]),
                 helper.make_node("Round", [name + "__clip"], [name + "__round"]),
                 helper.make_node("Cast", [name + "__round"], [name + "__u8" if layout == "NCHW" else name], to=TensorProto.UINT8)]
        if layout == "NCHW":
            back.append(helper.make_node("Transpose", [name + "__u8"], [name], perm=[0, 2, 3, 1], name=name + "__to_nhwc"))
        v.CopyFrom(helper.make_tensor_value_info(name, TensorProto.UINT8, [n_ or "batch", h_ or "height", w_ or "width", 3]))

    nodes = front + list(g.node) + back
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    m = prune_unused(m)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx") and o.version < 11:  # Pad/Clip with tensor inputs, Round
            o.version = 11
    try:
        onnx.checker.check_model(m)
    except onnx.checker.ValidationError as e:
        raise StyleForgeError(f"--io uint8-nhwc produced an invalid graph ({(str(e).splitlines() or [''])[0]})") from None
    return m
