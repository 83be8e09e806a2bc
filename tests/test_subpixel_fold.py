"""export/convert/subpixel.py: nearest ×2 → one-pixel pad → 3×3 conv folds into pad → transposed conv on the
low-resolution tensor, equal to the original graph on ONNX Runtime at sizes the graph was not built for; chains that
are not exactly that pattern stay as they are."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from styleforge.export.convert.subpixel import fold_upsample_conv, transposed_kernel  # noqa: E402


def _graph(*, pad_mode="reflect", conv_pads=(0, 0, 0, 0), scales=(1.0, 1.0, 2.0, 2.0), coord="asymmetric",
           nearest="floor", with_pad=True, bias=True, pad_value=None, extra_reader=False):
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.3, (5, 4, 3, 3)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array(scales, np.float32), "scales"),
             numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")]
    conv_in = ["padded" if with_pad else "up", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.normal(0, 0.1, 5).astype(np.float32), "b"))
        conv_in.append("b")
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["up"], mode="nearest",
                              coordinate_transformation_mode=coord, nearest_mode=nearest)]
    if with_pad:
        pad_in = ["up", "pads"]
        if pad_value is not None:
            inits.append(numpy_helper.from_array(np.array(pad_value, np.float32), "pv"))
            pad_in.append("pv")
        nodes.append(helper.make_node("Pad", pad_in, ["padded"], mode=pad_mode))
    nodes.append(helper.make_node("Conv", conv_in, ["y"], kernel_shape=[3, 3], pads=list(conv_pads)))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5, "h2", "w2"])]
    if extra_reader:
        nodes.append(helper.make_node("Relu", ["up"], ["side"]))
        outputs.append(helper.make_tensor_value_info("side", TensorProto.FLOAT, None))
    g = helper.make_graph(nodes, "up", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, "h", "w"])],
                          outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


def _run(model, x):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(["y"], {"x": x})[0]


CASES = {
    "reflect pad": {},
    "edge pad": {"pad_mode": "edge"},
    "zero pad": {"pad_mode": "constant", "pad_value": 0.0},
    "conv pads itself": {"with_pad": False, "conv_pads": (1, 1, 1, 1)},
    "no bias": {"bias": False},
    "half_pixel": {"coord": "half_pixel", "nearest": "round_prefer_floor"},
    "pytorch_half_pixel ceil": {"coord": "pytorch_half_pixel", "nearest": "round_prefer_ceil"},
}


@pytest.mark.parametrize("case", list(CASES))
def test_fold_equals_the_original_at_unseen_sizes(case):
    model = _graph(**CASES[case])
    folded, count = fold_upsample_conv(onnx.load_from_string(model.SerializeToString()))
    assert count == 1
    onnx.checker.check_model(folded)
    ops = [n.op_type for n in folded.graph.node]
    assert ops == ["Pad", "ConvTranspose"]
    for h, w in ((5, 7), (1, 3), (8, 8)):  # odd, one-row and even sizes: the borders fold too
        x = np.random.default_rng(h * w).uniform(0, 255, (2, 4, h, w)).astype(np.float32)
        a, b = _run(model, x), _run(folded, x)
        assert a.shape == b.shape == (2, 5, 2 * h, 2 * w)
        # fp32 sums reordered: relative error at float32's resolution of the largest output
        assert np.abs(a - b).max() <= 2e-6 * np.abs(a).max() * 36, (case, h, w, np.abs(a - b).max())


@pytest.mark.parametrize("bad", [
    {"scales": (1.0, 1.0, 3.0, 3.0)},                                 # not ×2
    {"coord": "half_pixel", "nearest": "floor"},                      # reads input o//2 - 1 at even o
    {"coord": "asymmetric", "nearest": "round_prefer_ceil"},          # reads (o+1)//2 at odd o
    {"pad_mode": "constant", "pad_value": 1.0},                       # a non-zero border
    {"conv_pads": (1, 1, 1, 1)},                                      # pad then conv pads again: a 2-pixel border
    {"extra_reader": True},                                           # the upsampled tensor is read elsewhere
])
def test_chains_that_are_not_the_pattern_stay(bad):
    model = _graph(**bad)
    folded, count = fold_upsample_conv(onnx.load_from_string(model.SerializeToString()))
    assert count == 0 and [n.op_type for n in folded.graph.node] == [n.op_type for n in model.graph.node]


def test_transposed_kernel_rows_are_the_two_tap_phases():
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, :, 1] = [1.0, 10.0, 100.0]  # rows w0, w1, w2 in the middle column
    k = transposed_kernel(w)[0, 0]
    assert list(k[:, 1]) == [100.0, 110.0, 11.0, 1.0]  # (w2, w1+w2, w0+w1, w0)
    assert list(k[:, 0]) == [0.0] * 4 and list(k[:, 3]) == [0.0] * 4  # the middle column feeds columns 1 and 2 only

