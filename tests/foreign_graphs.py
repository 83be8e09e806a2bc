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


def _hw(h, w, dynamic: bool):
    return ["h", "w"] if dynamic else [h, w]


def fixed_nhwc_stylizer(h: int = 32, w: int = 48, batch: int = 1, dynamic: bool = False, seed: int = 3) -> bytes:
    """float32 batch×h×w×3 NHWC in [0, 1], of ONE size (``dynamic``: the same weights at any size, the reference a
    tiled run is measured against) → ``y`` (same shape) plus a second output ``feat``. Two 3×3 convs (zero padding:
    a window's border differs from the whole image's, which the blending has to hide), residual, sigmoid."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("w1", _w(rng, 8, 3, 3, 3)), ("b1", _w(rng, 8, scale=0.1)), ("w2", _w(rng, 3, 8, 3, 3)),
        ("b2", _w(rng, 3, scale=0.1)))]
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["feat"]),
             helper.make_node("Conv", ["feat", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "t"], ["res"]),
             helper.make_node("Sigmoid", ["res"], ["s"]),
             helper.make_node("Transpose", ["s"], ["y"], perm=[0, 2, 3, 1])]
    f = TensorProto.FLOAT
    n = "n" if dynamic else batch
    return _model(nodes, [helper.make_tensor_value_info("x", f, [n, *_hw(h, w, dynamic), 3])],
                  [helper.make_tensor_value_info("y", f, [n, *_hw(h, w, dynamic), 3]),
                   helper.make_tensor_value_info("feat", f, [n, 8, *_hw(h, w, dynamic)])], inits)


def upsampler_x2(fixed: tuple[int, int] | None = None, seed: int = 4) -> bytes:
    """×2 super-resolution, float32 N×3×H×W in [0, 1] → N×3×2H×2W: conv 3→12, DepthToSpace(2), sigmoid. Any size,
    or one `fixed` (h, w) (its output then says 2h×2w in the shapes)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(a, n) for n, a in (("w", _w(rng, 12, 3, 3, 3)), ("b", _w(rng, 12, scale=0.1)))]
    nodes = [helper.make_node("Conv", ["lr", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("DepthToSpace", ["c"], ["d"], blocksize=2, mode="CRD"),
             helper.make_node("Sigmoid", ["d"], ["hr"])]
    f = TensorProto.FLOAT
    ins = ["n", 3, "h", "w"] if fixed is None else [1, 3, *fixed]
    outs = ["n", 3, "h2", "w2"] if fixed is None else [1, 3, 2 * fixed[0], 2 * fixed[1]]
    return _model(nodes, [helper.make_tensor_value_info("lr", f, ins)], [helper.make_tensor_value_info("hr", f, outs)],
                  inits)


#: the Caffe-style normalisation of :func:`bgr_normalized` (BGR channel order, on [0, 255])
BGR_MEAN, BGR_STD = (103.94, 116.78, 123.68), (57.4, 57.1, 58.4)


def bgr_normalized(seed: int = 5) -> bytes:
    """float32 N×3×H×W, channels B, G, R, each (v − BGR_MEAN) / BGR_STD on [0, 255] → BGR image in [0, 255]
    (127.5 + 127.5·tanh of a conv plus the input), any size."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("w", _w(rng, 3, 3, 3, 3, scale=0.2)), ("half", np.array(127.5, np.float32)))]
    nodes = [helper.make_node("Conv", ["bgr", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "bgr"], ["a"]),
             helper.make_node("Tanh", ["a"], ["t"]),
             helper.make_node("Mul", ["t", "half"], ["m"]),
             helper.make_node("Add", ["m", "half"], ["out_bgr"])]
    f = TensorProto.FLOAT
    return _model(nodes, [helper.make_tensor_value_info("bgr", f, ["n", 3, "h", "w"])],
                  [helper.make_tensor_value_info("out_bgr", f, ["n", 3, "h", "w"])], inits)


def uint8_input(seed: int = 6) -> bytes:
    """uint8 N×H×W×3 (grey levels as they are) → float32 N×H×W×3 in [0, 255]: Cast, /255, conv, sigmoid, ×255."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("w", _w(rng, 3, 3, 3, 3)), ("k", np.array(255.0, np.float32)))]
    nodes = [helper.make_node("Cast", ["pixels"], ["fl"], to=TensorProto.FLOAT),
             helper.make_node("Transpose", ["fl"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Div", ["t", "k"], ["u"]),
             helper.make_node("Conv", ["u", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c"], ["s"]),
             helper.make_node("Mul", ["s", "k"], ["m"]),
             helper.make_node("Transpose", ["m"], ["painted"], perm=[0, 2, 3, 1])]
    return _model(nodes, [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["n", "h", "w", 3])],
                  [helper.make_tensor_value_info("painted", TensorProto.FLOAT, ["n", "h", "w", 3])], inits)


def style_predictor(vector: int = 100, seed: int = 7) -> bytes:
    """Magenta-like style prediction: float32 N×H×W×3 NHWC in [0, 1] (any size) → ``bottleneck`` [N, vector]
    (conv, relu, global average pool, a dense layer)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("w", _w(rng, 16, 3, 3, 3)), ("fc", _w(rng, 16, vector)), ("flat", np.array([0, 16], np.int64)))]
    nodes = [helper.make_node("Transpose", ["style_img"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["g"]),
             helper.make_node("Reshape", ["g", "flat"], ["g2"]),
             helper.make_node("MatMul", ["g2", "fc"], ["bottleneck"])]
    f = TensorProto.FLOAT
    return _model(nodes, [helper.make_tensor_value_info("style_img", f, ["n", "h", "w", 3])],
                  [helper.make_tensor_value_info("bottleneck", f, ["n", vector])], inits)


def style_transformer(vector: int = 100, seed: int = 8) -> bytes:
    """Magenta-like transformer: ``content`` float32 1×H×W×3 NHWC in [0, 1] and ``style_bottleneck`` [1, vector] →
    NHWC [0, 1]: conv, plus a per-channel bias the vector sets (its conditional normalisation, reduced), relu,
    conv, residual, sigmoid."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("w1", _w(rng, 8, 3, 3, 3)), ("w2", _w(rng, 3, 8, 3, 3)), ("proj", _w(rng, vector, 8, scale=0.5)),
        ("shape", np.array([1, 8, 1, 1], np.int64)))]
    nodes = [helper.make_node("Transpose", ["content"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("MatMul", ["style_bottleneck", "proj"], ["b"]),
             helper.make_node("Reshape", ["b", "shape"], ["b4"]),
             helper.make_node("Add", ["c1", "b4"], ["cb"]),
             helper.make_node("Relu", ["cb"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "t"], ["res"]),
             helper.make_node("Sigmoid", ["res"], ["s"]),
             helper.make_node("Transpose", ["s"], ["stylized_image"], perm=[0, 2, 3, 1])]
    f = TensorProto.FLOAT
    return _model(nodes, [helper.make_tensor_value_info("content", f, [1, "h", "w", 3]),
                          helper.make_tensor_value_info("style_bottleneck", f, [1, vector])],
                  [helper.make_tensor_value_info("stylized_image", f, [1, "h", "w", 3])], inits)


def float16_io(seed: int = 9) -> bytes:
    """float16 N×3×H×W in [0, 1] → float16 N×3×H×W in [0, 1] (computes in float32 between two Casts)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(_w(rng, 3, 3, 3, 3), "w")]
    nodes = [helper.make_node("Cast", ["half_in"], ["x"], to=TensorProto.FLOAT),
             helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c"], ["s"]),
             helper.make_node("Cast", ["s"], ["half_out"], to=TensorProto.FLOAT16)]
    f16 = TensorProto.FLOAT16
    return _model(nodes, [helper.make_tensor_value_info("half_in", f16, ["n", 3, "h", "w"])],
                  [helper.make_tensor_value_info("half_out", f16, ["n", 3, "h", "w"])], inits)
