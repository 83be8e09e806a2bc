"""The in-graph uint8 NHWC wrapper (export/convert/io_uint8.py) on imported graphs of every picture convention the
runtime serves — BGR channel order, mean/std normalisation (NCHW and NHWC), an output ×2 the input, padded or not —
built by the real ``import-onnx`` path from tests/foreign_graphs.py: the wrapped graph on ONNX Runtime equals the
runtime's ``model(image)`` on the unwrapped bundle bit for bit at sizes the import never saw (odd sizes that need
reflect padding, and the edge branch), through ``convert --io uint8-nhwc`` and ``styleforge triton`` too."""
from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
import onnxruntime as ort  # noqa: E402

import foreign_graphs as fg  # noqa: E402
from styleforge.runtime.errors import StyleForgeError  # noqa: E402

GAIN = np.array([0.9, 1.0, 1.1], np.float32)


def _sess(model):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    data = model.SerializeToString() if hasattr(model, "SerializeToString") else str(model)
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def _pictures(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]


def _wrapped(bundle, role, image_in, image_out):
    """The bundle's `role` graph wrapped exactly as `styleforge triton` wraps it (from the manifest's annotations)."""
    from styleforge.export.convert.io_uint8 import io_of, wrap_uint8_nhwc
    from styleforge.runtime.bundle import open_bundle

    b = open_bundle(bundle)
    sc = b.manifest.size_constraints
    ins, outs = io_of(b.graph(role), image_in, image_out)
    return wrap_uint8_nhwc(onnx.load(str(b.file(b.graph(role).file))), ins, outs, multiple_of=sc.multiple_of,
                           scale=sc.scale)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Bundles from import-onnx: BGR + Caffe mean/std (NCHW, ×4), ImageNet mean/std on an NHWC stylizer with held
    and style-vector inputs (×2), a ×2 upsampler as is and as BGR padded to ×16."""
    from styleforge.export.onnx_import.api import import_onnx

    d = tmp_path_factory.mktemp("u8imports")
    for name, data in (("bgr", fg.bgr_normalized()), ("sty", fg.nhwc01_stylizer()), ("up", fg.upsampler_x2())):
        (d / f"{name}.onnx").write_bytes(data)
    np.save(d / "gain.npy", GAIN)
    made = {}
    for key, src, kw in (
            ("bgr", "bgr", dict(interface="stylizer", color_order="BGR", mean=fg.BGR_MEAN, std=fg.BGR_STD, multiple_of=4)),
            ("imagenet", "sty", dict(interface="stylizer", value_range="0,1", normalize="imagenet", multiple_of=2,
                                     consts={"gain": str(d / "gain.npy")}, style_vector="mix")),
            ("up", "up", dict(interface="translator", value_range="0,1")),
            ("up_bgr16", "up", dict(interface="translator", value_range="0,1", color_order="BGR", multiple_of=16))):
        made[key], report = import_onnx(d / f"{src}.onnx", d / f"{key}.sfbundle", **kw)
        assert report["passed"], (key, report)
    return made


def test_bgr_mean_std_wrapped_equals_the_runtime(imported):
    """BGR, (v − mean) / std on [0, 255], padded to ×4 (reflect) or not: equal to model(image)."""
    from styleforge.runtime import load

    model = load(imported["bgr"], backend="ort-cpu")
    spec = model.manifest.graph("stylize").input("image")
    assert spec.color_order == "BGR" and spec.mean is not None
    s = _sess(_wrapped(imported["bgr"], "stylize", "image", "stylized"))
    for img in _pictures([(29, 43), (9, 13), (8, 8), (64, 64)]):
        y = s.run(None, {"image": img[None]})[0][0]
        assert y.dtype == np.uint8 and y.shape == img.shape
        assert np.array_equal(y, model(img))


def test_imagenet_normalised_nhwc_stylizer_wrapped_equals_the_runtime(imported):
    """NHWC [0, 1] with ImageNet mean/std (per-channel constants broadcast over the last axis), a held input and a
    style vector left as they are: equal to model(image, style_index) at odd sizes."""
    from styleforge.runtime import load

    model = load(imported["imagenet"], backend="ort-cpu")
    s = _sess(_wrapped(imported["imagenet"], "stylize", "image", "stylized"))
    for k, img in enumerate(_pictures([(31, 45), (9, 9)], seed=1)):
        y = s.run(None, {"image": img[None], "gain": GAIN, "mix": np.eye(3, dtype=np.float32)[k]})[0][0]
        assert np.array_equal(y, model(img, style_index=k))


def test_scale_graph_output_is_cropped_to_scale_times_the_input(imported):
    """A ×2 upsampler: without padding the output is 2H×2W as it is; BGR and padded to ×16 (reflect for 9×13, edge for
    8×21), the crop is 2·H × 2·W of the unpadded input. Both equal to the runtime."""
    from styleforge.runtime import load

    for key, sizes in (("up", [(37, 41), (8, 9)]), ("up_bgr16", [(37, 41), (9, 13), (8, 21)])):
        model = load(imported[key], backend="ort-cpu")
        assert model.manifest.size_constraints.scale == 2
        s = _sess(_wrapped(imported[key], "translate", "image", "translated"))
        for img in _pictures(sizes, seed=2):
            y = s.run(None, {"image": img[None]})[0][0]
            assert y.shape == (2 * img.shape[0], 2 * img.shape[1], 3), key
            assert np.array_equal(y, model(img)), (key, img.shape)


def test_convert_uint8_nhwc_on_bgr_normalised_and_scale_bundles(imported, tmp_path):
    """`convert --io uint8-nhwc` no longer refuses these graphs: the variant validates, its manifest says plain RGB
    [0, 255] NHWC (no mean/std: they are inside), keeps the scale, and the runtime on it equals the float bundle."""
    from styleforge.export.convert.api import convert_bundle
    from styleforge.runtime import load

    for key, sizes in (("bgr", [(29, 43)]), ("up_bgr16", [(9, 13), (8, 21)])):
        u8, rep = convert_bundle(imported[key], tmp_path / f"{key}_u8.sfbundle", io="uint8-nhwc")
        assert rep["passed"], (key, rep)
        man = json.loads((u8 / "manifest.json").read_text())
        assert man["size_constraints"]["scale"] == (2 if key.startswith("up") else 1)
        image = next(t for g in man["graphs"] for t in g["inputs"] if t["name"] == "image")
        assert image.get("color_order") == "RGB" and image.get("mean") is None and image["dtype"] == "uint8"
        notes = " ".join(p for ps in man["lineage"]["conversion"]["passes"].values() for p in ps)
        assert "BGR ↔ RGB" in notes
        ref, got = load(imported[key], backend="ort-cpu"), load(u8, backend="ort-cpu")
        for img in _pictures(sizes, seed=3):
            assert np.array_equal(got(img), ref(img)), (key, img.shape)


def test_fp16_variant_with_uint8_io_equals_its_float_io_twin(imported, tmp_path):
    """fp16 + in-graph normalisation: the same fp16 graph with float I/O (the runtime converting) gives the same
    pictures bit for bit."""
    from styleforge.export.convert.api import convert_bundle
    from styleforge.runtime import load

    f16, rep = convert_bundle(imported["bgr"], tmp_path / "f16.sfbundle", precision="fp16")
    assert rep["passed"]
    u8, rep = convert_bundle(imported["bgr"], tmp_path / "f16u8.sfbundle", precision="fp16", io="uint8-nhwc")
    assert rep["passed"]
    for img in _pictures([(27, 35), (12, 9)], seed=4):
        assert np.array_equal(load(u8, backend="ort-cpu")(img), load(f16, backend="ort-cpu")(img))


def test_triton_writes_a_scale_graph_through_the_wrapper(imported, tmp_path):
    """`styleforge triton` on the ×2 BGR upsampler: a checked ONNX model whose output, batched, equals the runtime;
    a TensorRT ensemble of it (its pre/post steps do plain images of the input's size) is refused in one line."""
    pytest.importorskip("tritonclient")
    from styleforge.export.triton.checker import check_repository, load_config
    from styleforge.export.triton.writer import RepoOptions, write_repository
    from styleforge.runtime import load
    from styleforge.runtime.bundle import update_bundle
    from styleforge.runtime.manifest import EngineRecord

    import shutil

    bundle = shutil.copytree(imported["up_bgr16"], tmp_path / "up_bgr16.sfbundle")  # the engine goes into a copy
    assert write_repository([bundle], tmp_path / "repo", RepoOptions(max_batch_size=4)) == ["up_bgr16"]
    assert check_repository(tmp_path / "repo") == {"up_bgr16": []}
    cfg = load_config(tmp_path / "repo" / "up_bgr16")
    assert [list(o.dims) for o in cfg.output] == [[-1, -1, 3]] and cfg.max_batch_size == 4
    s = _sess(tmp_path / "repo" / "up_bgr16" / "1" / "model.onnx")
    x = np.stack(_pictures([(21, 30), (21, 30)], seed=5))
    model = load(bundle, backend="ort-cpu")
    assert np.array_equal(s.run(None, {"image": x})[0], np.stack(model.translate(list(x))))

    profile = {"image": [[1, 3, 16, 16], [1, 3, 64, 64], [4, 3, 256, 256]]}
    update_bundle(bundle, add_files={"engines/translate.sm90.plan": b"not a real engine"},
                  patch=lambda m: m.engines.append(EngineRecord(role="translate", file="engines/translate.sm90.plan",
                                                                tensorrt="10.3.0", compute_capability="9.0",
                                                                precision="fp32", profiles=[profile])))
    with pytest.raises(StyleForgeError) as e:
        write_repository([bundle], tmp_path / "repo2", RepoOptions(target_sm="9.0"))
    assert "leave out --target-sm" in str(e.value) and len(str(e.value).splitlines()) == 1
    assert not (tmp_path / "repo2").exists() or not any((tmp_path / "repo2").iterdir())


def test_bad_scale_is_a_one_line_error(imported):
    from styleforge.export.convert.io_uint8 import wrap_uint8_nhwc
    from styleforge.runtime.io_plan import ImageIO

    model = onnx.load_from_string(fg.upsampler_x2())
    for bad in (0, 1.5):
        with pytest.raises(StyleForgeError, match="scale .* must be a whole number") as e:
            wrap_uint8_nhwc(model, [ImageIO("lr", lo=0.0, hi=1.0)], [ImageIO("hr", lo=0.0, hi=1.0)], scale=bad)
        assert len(str(e.value).splitlines()) == 1


def _affine_graph(elem) -> bytes:
    """y = x · 0.9 + 0.05, N×H×W×3 in `elem` (float32 or float16): an image graph whose I/O both carry mean/std."""
    from onnx import helper, numpy_helper

    dt = helper.tensor_dtype_to_np_dtype(elem)
    m = helper.make_model(helper.make_graph(
        [helper.make_node("Mul", ["x", "k"], ["xk"]), helper.make_node("Add", ["xk", "c"], ["y"])], "affine",
        [helper.make_tensor_value_info("x", elem, ["n", "h", "w", 3])],
        [helper.make_tensor_value_info("y", elem, ["n", "h", "w", 3])],
        [numpy_helper.from_array(np.array(0.9, dt), "k"), numpy_helper.from_array(np.array(0.05, dt), "c")]),
        opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


@pytest.mark.parametrize("elem", [onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16])
def test_normalised_bgr_output_equals_imageio_decode(elem):
    """Mean/std and BGR on the output side too (import-onnx annotates only inputs with mean/std; ImageIO allows both),
    NHWC, float32 and float16 graphs, padded to ×4: the wrapped graph equals ImageIO.encode → graph → ImageIO.decode.

    float16: equal with ONNX Runtime's graph optimisations off. With them on (the default), ORT CPU, which has no
    float16 kernel for these ops, runs them in float32 and drops the wrapper's Cast to float16 together with its own
    inserted Cast back ("InsertedPrecisionFreeCast"), skipping the one float16 rounding numpy does in the runtime:
    measured at most 1 grey level (261 of 18 432 values at 64×96, ORT 1.32)."""
    from styleforge.export.convert.io_uint8 import wrap_uint8_nhwc
    from styleforge.runtime.io_plan import ImageIO, pad_batch

    half = elem == onnx.TensorProto.FLOAT16
    dtype = "float16" if half else "float32"
    io_in = ImageIO("x", "NHWC", dtype, 0.0, 1.0, True, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    io_out = ImageIO("y", "NHWC", dtype, 0.0, 1.0, True, (0.5, 0.4, 0.3), (0.25, 0.2, 0.3))
    graph = _affine_graph(elem)
    model = wrap_uint8_nhwc(onnx.load_from_string(graph), [io_in], [io_out], multiple_of=4)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    exact = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    wrapped, plain = _sess(model), _sess(onnx.load_from_string(graph))
    for img in _pictures([(64, 96), (13, 22)], seed=6):
        padded, crop = pad_batch(img[None], 4)
        want = io_out.decode(plain.run(None, {"x": io_in.encode(padded)})[0], crop)
        assert np.array_equal(exact.run(None, {"x": img[None]})[0], want)
        got = wrapped.run(None, {"x": img[None]})[0]
        assert np.array_equal(got, want) if not half else int(np.abs(got.astype(int) - want).max()) <= 1
