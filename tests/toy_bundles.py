"""Torch-free toy bundles of every served interface, made of hand-written ONNX graphs (instant to run), for the
server and Triton tests: a 2-style stylizer (style k adds 40·k), a CycleGAN-like translator (invert / halve)
and a conditional generator (a fixed linear map of z, plus the label)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _model(nodes, inputs, outputs, inits):
    import onnx
    from onnx import helper, numpy_helper

    g = helper.make_graph(nodes, "toy", inputs, outputs, [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def style_graph() -> bytes:
    """stylized = clip(image * 0.5 + 10 + 40 * style_index, 0, 255); image [batch,3,h,w], style_index [batch]."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    s = helper.make_tensor_value_info("style_index", TensorProto.INT64, ["batch"])
    y = helper.make_tensor_value_info("stylized", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    nodes = [helper.make_node("Cast", ["style_index"], ["sf"], to=TensorProto.FLOAT),
             helper.make_node("Reshape", ["sf", "shape4"], ["s4"]),
             helper.make_node("Mul", ["s4", "forty"], ["shift"]),
             helper.make_node("Mul", ["image", "half"], ["m"]),
             helper.make_node("Add", ["m", "ten"], ["a"]),
             helper.make_node("Add", ["a", "shift"], ["b"]),
             helper.make_node("Clip", ["b", "lo", "hi"], ["stylized"])]
    inits = {"shape4": np.array([-1, 1, 1, 1], np.int64), "forty": np.float32(40), "half": np.float32(0.5),
             "ten": np.float32(10), "lo": np.float32(0), "hi": np.float32(255)}
    return _model(nodes, [x, s], [y], inits)


def translate_graph(kind: str) -> bytes:
    """translated = 255 - image ("invert") or image * 0.5 ("halve")."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    y = helper.make_tensor_value_info("translated", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    node = (helper.make_node("Sub", ["full", "image"], ["translated"]) if kind == "invert"
            else helper.make_node("Mul", ["image", "half"], ["translated"]))
    return _model([node], [x], [y], {"full": np.float32(255), "half": np.float32(0.5)})


def generate_graph(nz: int, res: int, n_classes: int) -> bytes:
    """image = sigmoid(z @ W + 0.5 * label) * 255, reshaped to [batch, 3, res, res] (W fixed, seed 0)."""
    from onnx import TensorProto, helper

    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", nz])
    lab = helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"])
    y = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, res, res])
    nodes = [helper.make_node("MatMul", ["z", "W"], ["h"]),
             helper.make_node("Cast", ["label"], ["lf"], to=TensorProto.FLOAT),
             helper.make_node("Reshape", ["lf", "col"], ["l2"]),
             helper.make_node("Mul", ["l2", "half"], ["lh"]),
             helper.make_node("Add", ["h", "lh"], ["h2"]),
             helper.make_node("Sigmoid", ["h2"], ["s"]),
             helper.make_node("Mul", ["s", "full"], ["p"]),
             helper.make_node("Reshape", ["p", "shape"], ["image"])]
    W = np.random.default_rng(0).standard_normal((nz, 3 * res * res)).astype(np.float32)
    inits = {"W": W, "col": np.array([-1, 1], np.int64), "half": np.float32(0.5), "full": np.float32(255),
             "shape": np.array([-1, 3, res, res], np.int64)}
    return _model(nodes, [z, lab], [y], inits)


def norm_translate_graph(seed: int) -> bytes:
    """translated = clip(conv3x3(relu(instance_norm(conv3x3(image / 255)))) * 255): a tileable toy (radius 2)."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(seed)
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    y = helper.make_tensor_value_info("translated", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    nodes = [helper.make_node("Div", ["image", "full"], ["x"]),
             helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("InstanceNormalization", ["c1", "s", "t"], ["n1"], epsilon=1e-5),
             helper.make_node("Relu", ["n1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c2"], ["g"]),
             helper.make_node("Mul", ["g", "full"], ["translated"])]
    inits = {"full": np.float32(255), "w1": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
             "b1": np.zeros(4, np.float32), "s": np.ones(4, np.float32), "t": np.zeros(4, np.float32),
             "w2": rng.standard_normal((3, 4, 3, 3)).astype(np.float32) * 0.5, "b2": np.zeros(3, np.float32)}
    return _model(nodes, [x], [y], inits)


def write_norm_translator(path: Path) -> Path:
    """A one-way translator whose graph has instance norm (tileable), without tiling graphs (add them later)."""
    from styleforge.runtime.families.translator import TranslatorConfig

    w = _writer(Path(path).stem, "pix2pix", "image2image", "translator", TranslatorConfig())
    w.add_graph("translate", norm_translate_graph(0))
    w.set_size_constraints(multiple_of=4, min_side=4)
    return w.write(path)


def _writer(name, method, family, interface, config):
    from styleforge.export.core.bundle_writer import BundleWriter
    from styleforge.runtime.interfaces import load_interfaces

    load_interfaces()
    return BundleWriter(name=name, method=method, family=family, interface=interface, config=config, loss_network="none")


def write_stylizer(path: Path, num_styles: int = 2) -> Path:
    from styleforge.runtime.families.stylizer import StylizerConfig

    w = _writer(Path(path).stem, "stylizer", "stylizer", "stylizer",
                StylizerConfig(num_styles=num_styles, styles=[f"toy{k}" for k in range(num_styles)]))
    w.add_graph("stylize", style_graph())
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 8, 12)).astype(np.float32)
    s = np.array([0, 1], np.int64)
    w.add_golden("b2", "stylize", {"image": x, "style_index": s},
                 {"stylized": np.clip(x * 0.5 + 10 + 40 * s[:, None, None, None], 0, 255).astype(np.float32)})
    w.set_size_constraints(multiple_of=4, min_side=4)
    return w.write(path)


def write_translator(path: Path) -> Path:
    from styleforge.runtime.families.translator import TranslatorConfig

    w = _writer(Path(path).stem, "cyclegan", "image2image", "translator",
                TranslatorConfig(directions={"translate": "A->B", "translate_reverse": "B->A"}))
    w.add_graph("translate", translate_graph("invert"))
    w.add_graph("translate_reverse", translate_graph("halve"))
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 8, 8)).astype(np.float32)
    w.add_golden("fwd", "translate", {"image": x}, {"translated": 255 - x})
    w.set_size_constraints(multiple_of=4, min_side=4)
    return w.write(path)


def write_generator(path: Path, nz: int = 4, res: int = 8, n_classes: int = 3) -> Path:
    from styleforge.runtime.families.generator import GeneratorConfig

    w = _writer(Path(path).stem, "cgan", "gan", "generator",
                GeneratorConfig(nz=nz, resolution=res, n_classes=n_classes, classes=[str(k) for k in range(n_classes)]))
    w.add_graph("generate", generate_graph(nz, res, n_classes))
    z = np.random.default_rng(0).standard_normal((2, nz)).astype(np.float32)
    W = np.random.default_rng(0).standard_normal((nz, 3 * res * res)).astype(np.float32)
    lab = np.array([0, 2], np.int64)
    ref = (255 / (1 + np.exp(-(z @ W + 0.5 * lab[:, None])))).reshape(2, 3, res, res).astype(np.float32)
    w.add_golden("b2", "generate", {"z": z, "label": lab}, {"image": ref})
    return w.write(path)
