"""Fold ``nearest ×2 upsample → 1-pixel pad → 3×3 conv`` into ``1-pixel pad → 4×4 stride-2 transposed conv`` on
the low-resolution tensor: the up path of the Johnson stylizers, the WCT decoders and Progressive-GAN-style
generators.

Why: the upsampled tensor (4× the pixels) is never made, the pad runs on a quarter of the pixels, and the conv
does 16 multiply-adds per input pixel and channel pair instead of 36 (each output pixel of a nearest-upsampled
picture sees only two distinct input rows and columns). Measured on the demo stylizer's fp32 graph at 512², 11
interleaved runs, AMD EPYC, load 0.9–1.7: OpenVINO 162 → 144 ms, ONNX Runtime 228 → 218 ms; width-1 stylizer
OpenVINO 580 → 543, ONNX Runtime 710 → 684 ms.

Not on graphs ``convert --precision int8`` quantises: ONNX Runtime does not fuse a QDQ ConvTranspose into an
integer kernel, and the demo stylizer's int8 graph measured 132 → 154 ms with the fold on ONNX Runtime (OpenVINO
109 → 104 ms), 9 interleaved runs, same machine. Its fp32 graph in that run: ONNX Runtime 237 → 229 ms, OpenVINO
168 → 148 ms.

Exact in real arithmetic. With ``u = nearest_up2(x)``, output row ``2i + a`` of a 3×3 conv (rows w0, w1, w2) over
``u`` padded by one reads ``u[2i+a-1 .. 2i+a+1]``, which are ``x[i-1], x[i], x[i]`` for a = 0 and
``x[i], x[i], x[i+1]`` for a = 1 — two-tap filters ``(w0, w1+w2)`` and ``(w0+w1, w2)`` over ``x`` padded by one.
The pad maps too: reflect- or edge-padding ``u`` by one equals edge-padding ``x`` by one (``u[-1] = u[1] = x[0]``),
zero-padding ``u`` equals zero-padding ``x``. A transposed conv with stride 2, kernel 4 and pads 3 on the padded
``x`` computes exactly those two-tap filters per output phase when its kernel rows are
``(w2, w1+w2, w0+w1, w0)``, i.e. ``R @ w`` with R below, in both axes. fp32 sums are reordered: 98–103 dB against
the original graph on [0, 255] pictures (measured with the demo and width-1 stylizers).

Only the exact pattern folds: Resize with constant scales (1, 1, 2, 2), mode nearest and a coordinate rule under
which output ``o`` reads input ``o // 2`` (asymmetric with floor or round_prefer_floor; half_pixel or
pytorch_half_pixel with either round_prefer rule); the pad (a Pad of mode reflect / edge / constant 0 by exactly one
pixel on H and W, or the conv's own pads of 1) and the conv (3×3, stride 1, dilation 1, group 1, constant float
weights) each the only reader of the tensor before them.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .graph import Graph, prune_unused

#: kernel rows of the transposed conv from the 3×3 conv's rows (w0, w1, w2): (w2, w1+w2, w0+w1, w0)
R = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], np.float64)
#: (coordinate_transformation_mode, nearest_mode) pairs under which nearest ×2 reads input o // 2
ROUNDING_OK = {("asymmetric", "floor"), ("asymmetric", "round_prefer_floor"),
               ("half_pixel", "round_prefer_floor"), ("half_pixel", "round_prefer_ceil"),
               ("pytorch_half_pixel", "round_prefer_floor"), ("pytorch_half_pixel", "round_prefer_ceil")}


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def _is_nearest_up2(g: Graph, n) -> bool:
    if n.op_type != "Resize" or len(n.input) < 3 or not n.input[2] or (len(n.input) > 3 and n.input[3]):
        return False
    scales = g.const(n.input[2])
    if scales is None or list(np.asarray(scales, np.float64).reshape(-1)) != [1.0, 1.0, 2.0, 2.0]:
        return False
    rule = (_text(_attr(n, "coordinate_transformation_mode", "half_pixel")),
            _text(_attr(n, "nearest_mode", "round_prefer_floor")))
    return (_text(_attr(n, "mode", "nearest")) == "nearest" and rule in ROUNDING_OK
            and not _attr(n, "antialias", 0) and _text(_attr(n, "keep_aspect_ratio_policy", "stretch")) == "stretch")


def _one_pixel_pad(g: Graph, pad) -> str | None:
    """'edge' or 'constant' (the low-resolution pad that replaces `pad`), or None when it is not a one-pixel
    H/W pad of mode reflect, edge or constant 0."""
    if pad.op_type != "Pad" or len(pad.input) < 2 or (len(pad.input) > 3 and pad.input[3]):
        return None
    pads = g.const(pad.input[1])
    if pads is None or [int(v) for v in np.asarray(pads).reshape(-1)] != [0, 0, 1, 1, 0, 0, 1, 1]:
        return None
    mode = _text(_attr(pad, "mode", "constant"))
    if mode == "constant":
        value = g.const(pad.input[2]) if len(pad.input) > 2 and pad.input[2] else 0.0
        return "constant" if value is not None and float(np.asarray(value).reshape(())) == 0.0 else None
    return "edge" if mode in ("reflect", "edge") else None


def _is_plain_3x3(g: Graph, conv, pads) -> bool:
    w = g.const(conv.input[1]) if conv.op_type == "Conv" and len(conv.input) > 1 else None
    return (w is not None and np.issubdtype(w.dtype, np.floating) and w.ndim == 4 and tuple(w.shape[2:]) == (3, 3)
            and list(_attr(conv, "strides", [1, 1])) == [1, 1] and list(_attr(conv, "dilations", [1, 1])) == [1, 1]
            and _attr(conv, "group", 1) == 1 and list(_attr(conv, "pads", [0, 0, 0, 0])) == pads
            and _text(_attr(conv, "auto_pad", "NOTSET")) == "NOTSET"
            and (len(conv.input) < 3 or not conv.input[2] or g.const(conv.input[2]) is not None))


def _match(g: Graph, resize):
    """(pad node or None, conv node, low-resolution pad mode) for a foldable chain starting at `resize`, else None."""
    if not _is_nearest_up2(g, resize):
        return None
    nxt = g.single_consumer(resize.output[0])
    if nxt is None:
        return None
    if nxt.op_type == "Conv":  # the conv pads by itself (zeros)
        return (None, nxt, "constant") if _is_plain_3x3(g, nxt, [1, 1, 1, 1]) else None
    mode = _one_pixel_pad(g, nxt)
    conv = g.single_consumer(nxt.output[0]) if mode else None
    if conv is None or not _is_plain_3x3(g, conv, [0, 0, 0, 0]):
        return None
    return nxt, conv, mode


def transposed_kernel(w: np.ndarray) -> np.ndarray:
    """The [C_in, C_out, 4, 4] transposed-conv kernel equal to nearest ×2 then the [C_out, C_in, 3, 3] conv `w`."""
    return np.einsum("ay,oiyx,bx->ioab", R, w.astype(np.float64), R).astype(w.dtype)


def fold_upsample_conv(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Every foldable ``Resize → [Pad →] Conv`` chain (module docstring) becomes ``Pad → ConvTranspose``; the
    conv's output keeps its name. Returns (model, count)."""
    g = Graph(model)
    count = 0
    for resize in [n for n in g.g.node if n.op_type == "Resize"]:
        found = _match(g, resize)
        if found is None:
            continue
        pad, conv, mode = found
        stem = conv.name or conv.output[0]
        pads = g.add_init(f"{stem}_lowres_pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))
        kernel = g.add_init(f"{stem}_up2_kernel", transposed_kernel(g.const(conv.input[1])))
        padded = f"{stem}_lowres_padded"
        new_pad = helper.make_node("Pad", [resize.input[0], pads], [padded], name=f"{stem}_lowres_pad", mode=mode)
        deconv = helper.make_node("ConvTranspose", [padded, kernel] + list(conv.input[2:3]), list(conv.output),
                                  name=f"{stem}_up2", kernel_shape=[4, 4], strides=[2, 2], pads=[3, 3, 3, 3])
        gone = {id(resize), id(conv)} | ({id(pad)} if pad is not None else set())
        nodes = []
        for n in g.g.node:  # the new pair takes the conv's place (after everything the chain reads)
            nodes += [new_pad, deconv] if n is conv else ([] if id(n) in gone else [n])
        del g.g.node[:]
        g.g.node.extend(nodes)
        g.reindex()
        count += 1
    return (prune_unused(model) if count else model), count
