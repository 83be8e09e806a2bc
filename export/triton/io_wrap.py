"""An ONNX transform: give a graph that works on float32 NCHW images in [0, 255] uint8 NHWC RGB input and output,
doing inside the graph exactly what the StyleForge runtime does around it, so a server (Triton) needs no pre- or
post-processing code. Self-contained (onnx only).

``wrap_uint8_nhwc(model, multiple_of)``:

* input ``image`` uint8 N×H×W×3 → Cast float32 → Transpose to N×3×H×W;
* pad bottom and right by ``(-H) mod m`` and ``(-W) mod m`` (m = `multiple_of`, computed from the runtime shape,
  so any H and W work): mode ``reflect`` when both pads are smaller than the sides, else ``edge`` — the rule of
  ``runtime.images.pad_to_multiple``;
* the original graph;
* Slice the output back to H×W; Round (half to even, as ``np.rint``); Clip to [0, 255]; Cast uint8; Transpose to
  N×H×W×3 — the rule of ``runtime.images.to_hwc_uint8``.

So its output is bit-identical to the runtime's for the same float graph. Other inputs (``style_index``, ``z``,
``label``) are left as they are. With ``image_input=None`` (generators) only the output side is wrapped.
"""
from __future__ import annotations

import numpy as np

PREFIX = "__sf_io_"


def _find_image_output(graph) -> str:
    for o in graph.output:
        if len(o.type.tensor_type.shape.dim) == 4:
            return o.name
    raise ValueError("the graph has no 4-D output to wrap")


def wrap_uint8_nhwc(model, multiple_of: int = 1, *, image_input: str | None = "image", image_output: str | None = None):
    """A copy of ONNX `model` with uint8 NHWC image I/O (see the module docstring); checked by onnx.checker."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    image_output = image_output or _find_image_output(g)
    p = PREFIX
    inner_in, inner_out = p + "image_nchw", p + "output_nchw"
    for node in g.node:  # the original graph now reads/writes renamed internal tensors
        node.input[:] = [inner_in if t == image_input else t for t in node.input]
        node.output[:] = [inner_out if t == image_output else t for t in node.output]
    if image_input is not None:
        if not any(i.name == image_input for i in g.input):
            raise ValueError(f"the graph has no input {image_input!r}")
        g.input.remove(next(i for i in g.input if i.name == image_input))
    g.output.remove(next(o for o in g.output if o.name == image_output))

    def const(name, value):
        g.initializer.append(numpy_helper.from_array(np.asarray(value), p + name))
        return p + name

    pre, post = [], []
    cropped = inner_out
    if image_input is not None:
        pre += [helper.make_node("Cast", [image_input], [p + "f"], to=TensorProto.FLOAT),
                helper.make_node("Transpose", [p + "f"], [p + "nchw" if multiple_of > 1 else inner_in], perm=[0, 3, 1, 2])]
        if multiple_of > 1:
            pre += [
                helper.make_node("Shape", [p + "nchw"], [p + "shape"]),
                helper.make_node("Gather", [p + "shape", const("hw_idx", np.array([2, 3], np.int64))], [p + "hw"], axis=0),
                helper.make_node("Neg", [p + "hw"], [p + "neg_hw"]),
                helper.make_node("Mod", [p + "neg_hw", const("m", np.array([multiple_of], np.int64))], [p + "pad_hw"]),
                helper.make_node("Concat", [const("zeros6", np.zeros(6, np.int64)), p + "pad_hw"], [p + "pads"], axis=0),
                # reflect needs pad < side on both axes; otherwise edge (runtime.images.pad_to_multiple)
                helper.make_node("Less", [p + "pad_hw", p + "hw"], [p + "pad_lt"]),
                helper.make_node("Cast", [p + "pad_lt"], [p + "pad_lt_i"], to=TensorProto.INT64),
                helper.make_node("ReduceMin", [p + "pad_lt_i"], [p + "both_i"], keepdims=0),
                helper.make_node("Cast", [p + "both_i"], [p + "both"], to=TensorProto.BOOL),
                helper.make_node("If", [p + "both"], [inner_in],
                                 then_branch=_pad_branch("reflect", p + "nchw", p + "pads", p + "reflected"),
                                 else_branch=_pad_branch("edge", p + "nchw", p + "pads", p + "edged")),
            ]
            post.append(helper.make_node("Slice", [inner_out, const("starts", np.zeros(2, np.int64)), p + "hw",
                                                   const("axes", np.array([2, 3], np.int64))], [p + "crop"]))
            cropped = p + "crop"
    post += [helper.make_node("Round", [cropped], [p + "round"]),
             helper.make_node("Clip", [p + "round", const("lo", np.float32(0)), const("hi", np.float32(255))], [p + "clip"]),
             helper.make_node("Cast", [p + "clip"], [p + "u8"], to=TensorProto.UINT8),
             helper.make_node("Transpose", [p + "u8"], [image_output], perm=[0, 2, 3, 1])]
    nodes = pre + list(g.node) + post
    del g.node[:]
    g.node.extend(nodes)
    if image_input is not None:
        g.input.insert(0, helper.make_tensor_value_info(image_input, TensorProto.UINT8, ["batch", "height", "width", 3]))
    out_dims = ["batch", "height", "width", 3] if image_input is not None else \
        ["batch"] + [_dim(d) for d in _original_dims(model, image_output)[2:]] + [3]
    g.output.insert(0, helper.make_tensor_value_info(image_output, TensorProto.UINT8, out_dims))
    del g.value_info[:]  # shapes of renamed tensors are stale; shape inference recomputes them
    onnx.checker.check_model(m, full_check=True)
    return m


def _pad_branch(mode: str, x: str, pads: str, out: str):
    from onnx import TensorProto, helper

    node = helper.make_node("Pad", [x, pads], [out], mode=mode)
    return helper.make_graph([node], f"pad_{mode}", [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)])


def _original_dims(model, name):
    return next(o for o in model.graph.output if o.name == name).type.tensor_type.shape.dim


def _dim(d):
    return d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
