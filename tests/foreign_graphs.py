"""Hand-built ONNX image models that StyleForge did not make (onnx.helper only, no torch): the import-onnx tests'
foreign graphs, with different ranges, layouts, extra inputs and size multiples."""
from __future__ import annotations

import numpy as np


def _model(nodes, inputs, outputs, inits, opset=17):
    import onnx
    from onnx import helper

    m = helper.make_model(helper.make_graph(nodes, "foreign", inputs, outputs, inits),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def _w(rng, *shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def nhwc01_stylizer(styles: int = 3, seed: int = 0) -> bytes:
    """float32 N×H×W×3 in [0, 1] → same; H, W multiples of 2 (a stride-2 conv, then ×2 nearest upsampling);
    extra inputs: ``gain`` [3] (held fixed) and ``mix`` [S] (style vector: blends per-style colour biases)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("w1", _w(rng, 8, 3, 3, 3)), ("b1", _w(rng, 8, scale=0.1)), ("w2", _w(rng, 3, 8, 3, 3)),
        ("b2", _w(rng, 3, scale=0.1)), ("table", _w(rng, styles, 3, scale=1.0)),
        ("scales", np.array([1, 1, 2, 2], np.float32)), ("shape", np.array([1, 3, 1, 1], np.int64)))]
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w1", "b1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Resize", ["r1", "", "scales"], ["u"], mode="nearest"),
             helper.make_node("Conv", ["u", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "t"], ["res"]),
             helper.make_node("MatMul", ["mix", "table"], ["bias"]),
             helper.make_node("Reshape", ["bias", "shape"], ["bias4"]),
             helper.make_node("Add", ["res", "bias4"], ["pre"]),
             helper.make_node("Sigmoid", ["pre"], ["sig"]),
             helper.make_node("Reshape", ["gain", "shape"], ["gain4"]),
             helper.make_node("Mul", ["sig", "gain4"], ["g"]),
             helper.make_node("Transpose", ["g"], ["y"], perm=[0, 2, 3, 1])]
    f = TensorProto.FLOAT
    return _model(nodes, [helper.make_tensor_value_info("x", f, ["n", "h", "w", 3]),
                          helper.make_tensor_value_info("gain", f, [3]),
                          helper.make_tensor_value_info("mix", f, [styles])],
                  [helper.make_tensor_value_info("y", f, ["n", "h", "w", 3])], inits)


def nchw_pm1_translator(seed: int = 1) -> bytes:
    """float32 N×3×H×W in [−1, 1] → tanh image in [−1, 1] (``out``) plus a second output (``edges``), any size."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("w1", _w(rng, 12, 3, 3, 3)), ("w2", _w(rng, 3, 12, 1, 1)), ("s", np.ones(12, np.float32)),
        ("bb", np.zeros(12, np.float32)), ("we", _w(rng, 1, 3, 3, 3)))]
    nodes = [helper.make_node("Conv", ["img", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("InstanceNormalization", ["c1", "s", "bb"], ["n1"]),
             helper.make_node("LeakyRelu", ["n1"], ["l1"], alpha=0.2),
             helper.make_node("Conv", ["l1", "w2"], ["c2"]),
             helper.make_node("Add", ["c2", "img"], ["a"]),
             helper.make_node("Tanh", ["a"], ["out"]),
             helper.make_node("Conv", ["img", "we"], ["edges"], pads=[1, 1, 1, 1])]
    f = TensorProto.FLOAT
    return _model(nodes, [helper.make_tensor_value_info("img", f, ["n", 3, "h", "w"])],
                  [helper.make_tensor_value_info("out", f, ["n", 3, "h", "w"]),
                   helper.make_tensor_value_info("edges", f, ["n", 1, "h", "w"])], inits)


def latent_generator(nz: int = 8, seed: int = 2) -> bytes:
    """z float32 [N, nz] → N×3×16×16 image in [0, 255] (Gemm, reshape, ConvTranspose ×2, sigmoid × 255)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("wg", _w(rng, nz, 16 * 4 * 4)), ("shape", np.array([-1, 16, 4, 4], np.int64)),
        ("wt", _w(rng, 16, 8, 4, 4, scale=0.2)), ("wo", _w(rng, 8, 3, 4, 4, scale=0.2)),
        ("k", np.array(255.0, np.float32)))]
    nodes = [helper.make_node("MatMul", ["latent", "wg"], ["h"]),
             helper.make_node("Reshape", ["h", "shape"], ["h4"]),
             helper.make_node("ConvTranspose", ["h4", "wt"], ["u1"], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["u1"], ["r1"]),
             helper.make_node("ConvTranspose", ["r1", "wo"], ["u2"], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["u2"], ["s"]),
             helper.make_node("Mul", ["s", "k"], ["picture"])]
    f = TensorProto.FLOAT
    return _model(nodes, [helper.make_tensor_value_info("latent", f, ["n", nz])],
                  [helper.make_tensor_value_info("picture", f, ["n", 3, 16, 16])], inits)
