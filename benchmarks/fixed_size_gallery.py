"""The picture of docs/deploy.md "Importing a model": one fixed-size graph (128×128, with an instance norm, so that
a window's statistics differ from the whole image's) run on a 384×512 photo by ``--fit tiles`` and ``--fit resize``,
next to the same weights run on the whole photo at once; prints each strategy's mean / max difference from it.

    PYTHONPATH=$(python3 benchmarks/sfpath.py) python3 benchmarks/fixed_size_gallery.py docs/gallery/fixed_size.png
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np


def graph(fixed: bool, seed: int = 11) -> bytes:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((12, 3, 5, 5)) * 0.2).astype(np.float32)
    w2 = (rng.standard_normal((3, 12, 3, 3)) * 0.4).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("w1", w1), ("w2", w2), ("s", np.ones(12, np.float32)), ("b", np.zeros(12, np.float32)))]
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w1"], ["c1"], pads=[2, 2, 2, 2]),
             helper.make_node("InstanceNormalization", ["c1", "s", "b"], ["n1"]),
             helper.make_node("Relu", ["n1"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "t"], ["a"]),
             helper.make_node("Sigmoid", ["a"], ["s2"]),
             helper.make_node("Transpose", ["s2"], ["y"], perm=[0, 2, 3, 1])]
    hw = [128, 128] if fixed else ["h", "w"]
    f = TensorProto.FLOAT
    m = helper.make_model(helper.make_graph(nodes, "fixed", [helper.make_tensor_value_info("x", f, [1, *hw, 3])],
                                            [helper.make_tensor_value_info("y", f, [1, *hw, 3])], inits),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def main(out: str) -> None:
    import onnxruntime as ort
    from PIL import Image

    from styleforge.export.onnx_import.api import import_onnx
    from styleforge.runtime import load
    from styleforge.runtime.latency import bench_image

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "f.onnx").write_bytes(graph(True))
        bundle, report = import_onnx(Path(d) / "f.onnx", Path(d) / "f.sfbundle", interface="stylizer", value_range="0,1")
        assert report["passed"]
        model = load(bundle, backend="ort-cpu")
        photo = bench_image(384, 512)
        tiles, resized = model(photo), model(photo, fit="resize")
    whole_s = ort.InferenceSession(graph(False), providers=["CPUExecutionProvider"])
    whole = np.clip(np.rint(whole_s.run(None, {"x": photo[None].astype(np.float32) / 255})[0][0] * 255), 0, 255)
    for name, img in (("tiles", tiles), ("resize", resized)):
        d = np.abs(img.astype(float) - whole)
        print(f"{name}: vs the whole-image run mean {d.mean():.2f} max {d.max():.0f} grey levels")
    gap = 8
    canvas = np.full((384, 4 * 512 + 3 * gap, 3), 255, np.uint8)
    for k, img in enumerate((photo, whole.astype(np.uint8), tiles, resized)):
        canvas[:, k * (512 + gap):k * (512 + gap) + 512] = img
    small = Image.fromarray(canvas).resize((canvas.shape[1] // 2, 192), Image.Resampling.LANCZOS)
    small.quantize(256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)  # a 256-colour PNG: ~1/3 the bytes
    print(f"wrote {out}: photo | whole image at once (not possible with the fixed graph) | --fit tiles | --fit resize")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fixed_size.png")
