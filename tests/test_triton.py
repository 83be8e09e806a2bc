"""`styleforge triton`: the repository parses with Triton's own ModelConfig schema (from tritonclient), its configs
match the ONNX graphs, the in-graph uint8 NHWC wrapper reproduces the runtime bit for bit, and the TensorRT
ensemble's Python-backend models (run against a stub of triton_python_backend_utils with the real module's
calls) do the same around the graph."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

pytest.importorskip("tritonclient")
onnx = pytest.importorskip("onnx")
import onnxruntime as ort  # noqa: E402

from toy_bundles import style_graph, write_generator, write_stylizer, write_translator  # noqa: E402


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    from styleforge.runtime.cli import main

    d = tmp_path_factory.mktemp("triton")
    bundles = {"toy": write_stylizer(d / "toy.sfbundle"), "cyc": write_translator(d / "cyc.sfbundle"),
               "digits": write_generator(d / "digits.sfbundle")}
    assert main(["triton", *map(str, bundles.values()), "--out", str(d / "repo"), "--max-batch", "8"]) == 0
    return d / "repo", bundles


def test_repository_layout_and_schema(repo):
    from styleforge.export.triton.checker import check_repository, load_config
    from styleforge.export.triton.schema import model_config_pb2

    root, _ = repo
    assert sorted(p.name for p in root.iterdir()) == ["cyc", "cyc_reverse", "digits", "toy"]
    assert check_repository(root) == {"cyc": [], "cyc_reverse": [], "digits": [], "toy": []}
    mc = model_config_pb2()
    cfg = load_config(root / "toy")
    assert (cfg.name, cfg.platform, cfg.max_batch_size) == ("toy", "onnxruntime_onnx", 8)
    assert [(i.name, mc.DataType.Name(i.data_type), list(i.dims)) for i in cfg.input] == [
        ("image", "TYPE_UINT8", [-1, -1, 3]), ("style_index", "TYPE_INT64", [1])]
    assert cfg.input[1].HasField("reshape") and list(cfg.input[1].reshape.shape) == []
    assert [(o.name, mc.DataType.Name(o.data_type), list(o.dims)) for o in cfg.output] == [("stylized", "TYPE_UINT8", [-1, -1, 3])]
    assert list(cfg.dynamic_batching.preferred_batch_size) == [4, 8] and cfg.instance_group[0].count == 1
    gen = load_config(root / "digits")
    assert [list(o.dims) for o in gen.output] == [[8, 8, 3]] and [i.name for i in gen.input] == ["z", "label"]


def test_wrapped_graphs_reproduce_the_runtime_bit_for_bit(repo):
    from styleforge.runtime import load

    root, bundles = repo
    rng = np.random.default_rng(0)
    toy = load(bundles["toy"], backend="ort-cpu")
    sess = ort.InferenceSession(str(root / "toy" / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    for h, w in ((64, 64), (70, 90), (9, 13)):  # 9x13: pads of 3 (reflect) and 3 (reflect)
        x = rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8)
        y = sess.run(None, {"image": x, "style_index": np.array([0, 1], np.int64)})[0]
        assert y.dtype == np.uint8 and np.array_equal(y, np.stack(toy.stylize_batch(list(x), style_index=[0, 1])))
    cyc = load(bundles["cyc"], backend="ort-cpu")
    rev = ort.InferenceSession(str(root / "cyc_reverse" / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    x = rng.integers(0, 256, (1, 21, 30, 3), dtype=np.uint8)
    assert np.array_equal(rev.run(None, {"image": x})[0][0], cyc(x[0], reverse=True))
    gen = load(bundles["digits"], backend="ort-cpu")
    g = ort.InferenceSession(str(root / "digits" / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    z = gen.latents([0, 1])
    assert np.array_equal(g.run(None, {"z": z, "label": np.array([0, 2])})[0], np.stack(gen.generate(z, [0, 2])))


def test_in_graph_padding_falls_back_to_edge_like_the_runtime():
    """Sides shorter than their pad (2x3 to a multiple of 4): reflect is impossible, the runtime edge-pads."""
    from styleforge.export.convert.io_uint8 import wrap_uint8_nhwc
    from styleforge.runtime.images import pad_to_multiple, to_hwc_uint8, to_nchw_float
    from styleforge.runtime.io_plan import ImageIO

    io = ImageIO(name="image", layout="NCHW", dtype="float32", lo=0.0, hi=255.0)
    m = wrap_uint8_nhwc(onnx.load_from_string(style_graph()), [io], [ImageIO(name="stylized", layout="NCHW",
                        dtype="float32", lo=0.0, hi=255.0)], multiple_of=4)
    wrapped = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    plain = ort.InferenceSession(style_graph(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).integers(0, 256, (1, 2, 3, 3), dtype=np.uint8)
    padded, (h, w) = pad_to_multiple(to_nchw_float(list(x)), 4)
    ref = to_hwc_uint8(plain.run(None, {"image": padded, "style_index": np.array([1])})[0][:, :, :h, :w])[0]
    assert np.array_equal(wrapped.run(None, {"image": x, "style_index": np.array([1])})[0][0], ref)


def test_checker_finds_each_mistake(repo, tmp_path):
    import shutil

    from styleforge.export.triton.checker import check_model

    root, _ = repo
    model = tmp_path / "toy"
    shutil.copytree(root / "toy", model)
    good = (model / "config.pbtxt").read_text()
    cases = {"unknown field": good.replace("max_batch_size", "max_batch"),
             "unknown enum value": good.replace("TYPE_UINT8", "TYPE_UINT9", 1),
             "wrong data type": good.replace("TYPE_UINT8", "TYPE_FP32", 1),
             "batch dim in dims": good.replace("dims: -1\n  dims: -1\n  dims: 3", "dims: -1\n  dims: -1\n  dims: -1\n  dims: 3", 1),
             "wrong input name": good.replace('name: "image"', 'name: "input"', 1),
             "wrong channels": good.replace("dims: 3", "dims: 4", 1),
             "wrong model name": good.replace('name: "toy"', 'name: "other"', 1),
             "batching without max_batch_size": good.replace("max_batch_size: 8", "max_batch_size: 0")}
    for what, text in cases.items():
        assert text != good, what
        (model / "config.pbtxt").write_text(text)
        assert check_model(model), what
    (model / "config.pbtxt").write_text(good)
    assert check_model(model) == []


class _Tensor:
    """Stand-in for c_python_backend_utils.Tensor: name() and as_numpy(), as the Python backend's models use it."""

    def __init__(self, name, array):
        self._name, self._array = name, np.asarray(array)

    def name(self):
        return self._name

    def as_numpy(self):
        return self._array


class _Request:
    def __init__(self, tensors):
        self._tensors = tensors

    def inputs(self):
        return self._tensors


def _stub_pb_utils():
    """triton_python_backend_utils as the real one behaves for these calls (python_backend's
    src/resources/triton_python_backend_utils.py: get_input_tensor_by_name scans request.inputs() by name())."""
    mod = types.ModuleType("triton_python_backend_utils")
    mod.Tensor = _Tensor
    mod.InferenceResponse = lambda output_tensors, error=None: types.SimpleNamespace(output_tensors=lambda: output_tensors)
    mod.get_input_tensor_by_name = lambda request, name: next((t for t in request.inputs() if t.name() == name), None)
    return mod


def _python_model(path):
    ns: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), ns)
    return ns["TritonPythonModel"]()


def test_tensorrt_engine_becomes_a_checked_ensemble(tmp_path, monkeypatch):
    """A bundle engine for the target GPU → pre (python) → plan → post (python) ensemble; the plan step is played
    by the same graph in ONNX Runtime, and the whole chain equals the runtime's output."""
    from styleforge.export.triton.checker import check_repository, load_config
    from styleforge.export.triton.writer import RepoOptions, write_repository
    from styleforge.runtime import load
    from styleforge.runtime.bundle import update_bundle
    from styleforge.runtime.manifest import EngineRecord

    bundle = write_stylizer(tmp_path / "toy.sfbundle")
    profile = {"image": [[1, 3, 8, 8], [1, 3, 512, 512], [4, 3, 1024, 1024]], "style_index": [[1], [1], [4]]}
    update_bundle(bundle, add_files={"engines/stylize.sm90.plan": b"not a real engine"},
                  patch=lambda m: m.engines.append(EngineRecord(role="stylize", file="engines/stylize.sm90.plan",
                                                                tensorrt="10.3.0", compute_capability="9.0",
                                                                precision="fp32", profiles=[profile])))
    names = write_repository([bundle], tmp_path / "repo", RepoOptions(max_batch_size=8, target_sm="9.0"))
    assert names == ["toy_pre", "toy_plan", "toy_post", "toy"]
    assert check_repository(tmp_path / "repo") == {n: [] for n in sorted(names)}
    assert load_config(tmp_path / "repo" / "toy_plan").max_batch_size == 4  # clamped to the engine's profile
    assert load_config(tmp_path / "repo" / "toy").platform == "ensemble"
    assert (tmp_path / "repo" / "toy_plan" / "1" / "model.plan").read_bytes() == b"not a real engine"
    # with no engine for the target, the portable ONNX model is written
    assert write_repository([bundle], tmp_path / "repo2", RepoOptions(target_sm="8.6")) == ["toy"]

    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", _stub_pb_utils())
    pre = _python_model(tmp_path / "repo" / "toy_pre" / "1" / "model.py")
    post = _python_model(tmp_path / "repo" / "toy_post" / "1" / "model.py")
    plan = ort.InferenceSession(style_graph(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(2).integers(0, 256, (2, 30, 41, 3), dtype=np.uint8)
    nchw = pre.execute([_Request([_Tensor("image", x)])])[0].output_tensors()[0].as_numpy()
    y = plan.run(None, {"image": nchw, "style_index": np.array([1, 0])})[0]
    out = post.execute([_Request([_Tensor("NCHW", y), _Tensor("image", x)])])[0].output_tensors()[0]
    assert out.name() == "stylized"
    ref = np.stack(load(bundle, backend="ort-cpu").stylize_batch(list(x), style_index=[1, 0]))
    assert np.array_equal(out.as_numpy(), ref)


def test_unsupported_bundle_is_one_line(tmp_path, capsys):
    from helpers import write_scale_bundle

    from styleforge.runtime.cli import main

    b = write_scale_bundle(tmp_path / "g.sfbundle")  # interface "graph"
    assert main(["triton", str(b), "--out", str(tmp_path / "repo")]) == 2
    assert "cannot be written as a Triton model" in capsys.readouterr().err


def test_plugin_engine_never_becomes_a_tensorrt_plan(tmp_path, capsys):
    """Triton's TensorRT backend (C++) cannot load an engine that needs the Python plugin: the ONNX graph goes to
    ONNX Runtime's backend instead, and a graph that itself holds the plugin node is refused in one line."""
    from styleforge.export.triton.writer import RepoOptions, _without_plugin_engine, write_repository
    from styleforge.kernels import trt_plugin
    from styleforge.runtime.bundle import update_bundle
    from styleforge.runtime.errors import StyleForgeError
    from styleforge.runtime.manifest import EngineRecord

    bundle = write_stylizer(tmp_path / "toy.sfbundle")
    profile = {"image": [[1, 3, 8, 8], [1, 3, 512, 512], [4, 3, 1024, 1024]], "style_index": [[1], [1], [4]]}
    update_bundle(bundle, add_files={"engines/stylize.sm90.plan": b"not a real engine"},
                  patch=lambda m: m.engines.append(EngineRecord(
                      role="stylize", file="engines/stylize.sm90.plan", tensorrt="10.16.1.11", compute_capability="9.0",
                      precision="fp32", profiles=[profile], plugins=[trt_plugin.PLUGIN_ID])))
    assert write_repository([bundle], tmp_path / "repo", RepoOptions(target_sm="9.0")) == ["toy"]
    assert "writing the ONNX graph for ONNX Runtime's backend instead" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == ["toy"]
    assert not list((tmp_path / "repo").rglob("model.plan"))
    engine = EngineRecord(role="whiten", file="engines/w.plan", tensorrt="10.16.1.11", compute_capability="9.0",
                          precision="fp32", profiles=[], plugins=[trt_plugin.PLUGIN_ID])
    with pytest.raises(StyleForgeError, match=r"^wc: engine engines/w.plan needs the Python plugin styleforge::WhitenColor, "
                                              r".*holds styleforge::WhitenColor, which ONNX Runtime cannot run"):
        _without_plugin_engine("wc", onnx.load_from_string(trt_plugin.make_model(4)), engine)


def test_size_rules_triton_cannot_keep_are_refused_in_one_line(tmp_path, capsys):
    """A fixed-size graph and a two-graph arbitrary-style bundle (both from import-onnx on onnx.helper graphs):
    `styleforge triton` refuses each in one line naming the reason and writes no model. (A ×2 upsampler is written:
    tests/test_uint8_io_imports.py.)"""
    import foreign_graphs as fg
    from styleforge.export.onnx_import.api import import_onnx
    from styleforge.runtime.cli import main

    (tmp_path / "fx.onnx").write_bytes(fg.fixed_nhwc_stylizer())
    (tmp_path / "t.onnx").write_bytes(fg.style_transformer())
    (tmp_path / "p.onnx").write_bytes(fg.style_predictor())
    fixed, _ = import_onnx(tmp_path / "fx.onnx", tmp_path / "fx.sfbundle", interface="stylizer", value_range="0,1",
                           output_name="y")
    arb = tmp_path / "arb.sfbundle"
    assert main(["import-onnx", str(tmp_path / "t.onnx"), "--style-encoder", str(tmp_path / "p.onnx"), "--style-input",
                 "style_bottleneck", "--style-size", "32", "--range", "0,1", "--out", str(arb)]) == 0
    capsys.readouterr()
    for bundle, reason in ((fixed, "fixed-size 32x48 graph"), (arb, "'arbitrary_style' bundle cannot be written")):
        assert main(["triton", str(bundle), "--out", str(tmp_path / "repo")]) != 0
        err = capsys.readouterr().err.strip()
        assert reason in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / "repo").exists() or not any((tmp_path / "repo").iterdir())
