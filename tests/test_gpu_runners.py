"""Runners (runtime/backends): each runner's probe/supports and error paths, auto's choice and its reasons, the
TensorRT runner end to end on a simulated GPU (contexts, profiles, batch splitting, pinned copies, CUDA
graphs), and the ONNX Runtime GPU runners' refusal to fall back to the CPU. No GPU here: TensorRT and
cuda-python are the stubs of tests/stubs (see tests/stubs/README.md)."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from gpu_stubs import gpu_stubs, stub_env  # noqa: F401  (fixture)
from helpers import write_scale_bundle


def _expected(x):
    return np.clip(x * 0.5 + 10, 0, 255).astype(np.float32)


@pytest.fixture
def scale(tmp_path):
    from styleforge.runtime.bundle import open_bundle

    path = write_scale_bundle(tmp_path / "s.sfbundle")
    return path, open_bundle(path)


# --- issue item 1: a tensorrt that imports is not a GPU ---------------------------------------------

def test_auto_without_engines_runs_on_ort_cpu_with_stub_tensorrt(gpu_stubs, scale):
    """tensorrt imports and cuda-python imports, but there is no driver (runtime calls return
    cudaErrorInsufficientDriver): auto must skip tensorrt, say why, and run on ONNX Runtime CPU."""
    from styleforge.runtime.backends import open_session, runner_class
    from styleforge.runtime.errors import StyleForgeError

    gpu_stubs(cuda="nodriver")
    _, bundle = scale
    x = np.full((1, 3, 8, 8), 100.0, np.float32)
    s = open_session(bundle, "stylize", "auto")
    np.testing.assert_allclose(s.run({"image": x})["stylized"], 60.0)
    assert s.name == "ort-cpu" and s.selection.chosen == "ort-cpu"
    assert "cudaErrorInsufficientDriver" in s.selection.skipped["tensorrt"]
    assert not runner_class("tensorrt").probe()
    with pytest.raises(StyleForgeError, match="backend 'tensorrt' cannot run graph 'stylize' here: .*no usable GPU"):
        open_session(bundle, "stylize", "tensorrt")


def test_cli_stylize_auto_says_ort_cpu(tmp_path, cli):
    """The issue's acceptance: a stub tensorrt (no engine support) on PYTHONPATH, a bundle without engines:
    ``styleforge stylize`` (backend auto) succeeds on ONNX Runtime CPU and says so with -v."""
    from PIL import Image

    bundle = write_scale_bundle(tmp_path / "s.sfbundle", interface="stylizer")
    Image.fromarray(np.full((12, 16, 3), 100, np.uint8)).save(tmp_path / "in.png")
    p = cli("stylize", bundle, tmp_path / "in.png", "--out", tmp_path / "out.png", "-v", env=stub_env(cuda="nodriver"))
    assert p.returncode == 0, p.stderr
    assert "runner ort-cpu (auto; skipped tensorrt: tensorrt 10.16.1.11 imports, but there is no usable GPU" in p.stderr
    assert (tmp_path / "out.png").exists()
    p = cli("stylize", bundle, tmp_path / "in.png", "--out", tmp_path / "out2.png", env=stub_env(cuda="nodriver"))
    assert p.returncode == 0 and "runner" not in p.stderr  # quiet without -v


def test_tensorrt_supports_needs_a_matching_engine(gpu_stubs, scale):
    from styleforge.runtime.backends import open_session, runner_class

    gpu_stubs(cuda="sim", engines=True)
    _, bundle = scale
    assert runner_class("tensorrt").probe()  # a GPU is there ...
    v = runner_class("tensorrt").supports(bundle, "stylize")
    assert not v and "no TensorRT engine for graph 'stylize'" in v.why and "styleforge engine build" in v.why
    s = open_session(bundle, "stylize", "auto")  # ... but no engine: auto goes on
    assert s.name == "ort-cpu" and "no TensorRT engine" in s.selection.skipped["tensorrt"]


# --- engines built and run on the simulated GPU -------------------------------------------------------

BUCKETS = [{"image": ((1, 3, 4, 4), (2, 3, 16, 16), (2, 3, 32, 32))}, {}]


@pytest.fixture
def engine_bundle(gpu_stubs, scale):
    """The scale bundle with a simulated engine: bucket 0 small (batch <= 2, <= 32 px), bucket 1 the default."""
    from styleforge.export.engines.tensorrt_build import BuildOptions, build_bundle_engines
    from styleforge.runtime.bundle import open_bundle

    gpu_stubs(cuda="sim", engines=True)
    path, _ = scale
    (rec,) = build_bundle_engines(path, buckets=BUCKETS, options=BuildOptions(contexts=2))
    return path, open_bundle(path), rec


def test_engine_record_has_exact_version_gpu_buckets_and_cache(engine_bundle, tmp_path):
    from styleforge.export.engines.tensorrt_build import BuildOptions, build_bundle_engines

    path, bundle, rec = engine_bundle
    assert bundle.manifest.engines == [rec]
    assert rec.tensorrt == "10.16.1.11" and rec.gpu == "StyleForge Sim GPU" and rec.compute_capability == "8.9"
    assert rec.contexts == 2 and len(rec.profiles) == 2 and rec.plugins == [] and rec.hardware_compatibility == "none"
    assert rec.profiles[0]["image"] == [[1, 3, 4, 4], [2, 3, 16, 16], [2, 3, 32, 32]]
    assert rec.timing_cache == ""  # the first build started from an empty timing cache ...
    cache = tmp_path / "cache" / "tensorrt" / "10.16.1.11" / "StyleForge-Sim-GPU-sm89" / "timing.cache"
    assert cache.is_file() and b"tactics" in cache.read_bytes()
    (again,) = build_bundle_engines(path, options=BuildOptions(contexts=1, opt_level=5))
    assert len(again.timing_cache) == 64  # ... the next from the saved one (its sha256)
    assert again.builder_optimization_level == 5 and again.contexts == 1


def test_tensorrt_runner_buckets_batch_split_pinned_copies(engine_bundle):
    from cuda.bindings import runtime as rt

    from styleforge.runtime.backends import open_session

    _, bundle, rec = engine_bundle
    rt.reset_stats()
    s = open_session(bundle, "stylize", "auto")
    assert s.name == "tensorrt" and s.selection.skipped == {} and s.providers == [f"tensorrt:{rec.file}"]
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (5, 3, 8, 8)).astype(np.float32)       # bucket 0 (max batch 2): split 2+2+1
    np.testing.assert_array_equal(s.run({"image": x})["stylized"], _expected(x))
    assert s._contexts[0].profile == 0                               # bucket 0, copy 0
    big = rng.uniform(0, 255, (1, 3, 40, 24)).astype(np.float32)   # only bucket 1 takes 40 px
    np.testing.assert_array_equal(s.run({"image": big})["stylized"], _expected(big))
    assert s._contexts[0].profile == 2                               # bucket 1, copy 0
    assert rt.STATS["pageable_copies"] == 0 and rt.STATS["pinned_copies"] == 8  # 4 runs of the engine, in + out


def test_tensorrt_runner_threads_use_separate_contexts_and_profiles(engine_bundle):
    import tensorrt

    from styleforge.runtime.backends import open_session

    _, bundle, _ = engine_bundle
    s = open_session(bundle, "stylize", "tensorrt")
    assert s.thread_policy == "context-pool" and s.pool_size == 2
    rng = np.random.default_rng(1)
    xs = [rng.uniform(0, 255, (1, 3, 12, 12)).astype(np.float32) for _ in range(6)]
    errors = []

    def work(x):
        for _ in range(4):
            if not np.array_equal(s.run({"image": x})["stylized"], _expected(x)):
                errors.append("wrong output")

    threads = [threading.Thread(target=work, args=(x,)) for x in xs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and tensorrt.SIM_STATS["concurrent_use"] == 0
    assert len(s._contexts) == 2 and {c.profile for c in s._contexts} == {0, 1}  # copy k of bucket 0 per context


def test_tensorrt_runner_cuda_graph_captures_once_per_shape(engine_bundle):
    from cuda.bindings import runtime as rt

    from styleforge.runtime.backends import open_session

    _, bundle, _ = engine_bundle
    rt.reset_stats()
    s = open_session(bundle, "stylize", "tensorrt", cuda_graph=True)
    rng = np.random.default_rng(2)
    for k in range(4):  # warm-up, capture + launch, launch, launch: new inputs each time
        x = rng.uniform(0, 255, (2, 3, 16, 16)).astype(np.float32)
        np.testing.assert_array_equal(s.run({"image": x})["stylized"], _expected(x))
    assert rt.STATS["captures"] == 1 and rt.STATS["graph_launches"] == 3


def test_tensorrt_runner_errors(engine_bundle):
    from styleforge.runtime.backends import open_session
    from styleforge.runtime.errors import StyleForgeError

    _, bundle, _ = engine_bundle
    s = open_session(bundle, "stylize", "tensorrt")
    with pytest.raises(StyleForgeError, match="fit none of the engine's profiles"):
        s.run({"image": np.zeros((1, 3, 2048, 8), np.float32)})
    with pytest.raises(StyleForgeError, match="needs input.* image"):
        s.run({"picture": np.zeros((1, 3, 8, 8), np.float32)})
    s.deactivate()
    assert s._contexts == [] and s.engine is None


def test_tensorrt_runner_with_a_static_input_beside_dynamic_ones(gpu_stubs, tmp_path):
    """A graph with a dynamic image and a fixed-shape input (like WCT's alpha and statistics): profiles hold only
    the dynamic inputs; TensorRT reports the static one's own shape as its profile; batches still split."""
    from onnx import TensorProto, helper

    from styleforge.export.core.bundle_writer import BundleWriter
    from styleforge.export.engines.tensorrt_build import BuildOptions, build_bundle_engines
    from styleforge.runtime.backends import open_session
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.manifest import GraphConfig
    from styleforge.runtime.model import _import_families

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    g = helper.make_tensor_value_info("gain", TensorProto.FLOAT, [3, 1, 1])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    model = helper.make_model(helper.make_graph([helper.make_node("Mul", ["image", "gain"], ["out"])], "g", [x, g], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    _import_families()
    w = BundleWriter(name="gain", method="gain", family="graph", interface="graph", config=GraphConfig())
    w.add_graph("apply", model.SerializeToString())
    path = w.write(tmp_path / "gain.sfbundle")
    gpu_stubs(cuda="sim", engines=True)
    (rec,) = build_bundle_engines(path, buckets=[{"image": ((1, 3, 4, 4), (2, 3, 8, 8), (2, 3, 16, 16))}],
                                  options=BuildOptions(contexts=1))
    assert list(rec.profiles[0]) == ["image"]
    s = open_session(open_bundle(path), "apply", "auto")
    img = np.random.default_rng(4).uniform(0, 1, (3, 3, 8, 12)).astype(np.float32)
    gain = np.array([1.0, 2.0, 3.0], np.float32).reshape(3, 1, 1)
    assert s.name == "tensorrt" and s.batched == {"image"}
    np.testing.assert_allclose(s.run({"image": img, "gain": gain})["out"], img * gain, rtol=1e-6)


def test_engine_of_another_tensorrt_version_is_refused(engine_bundle, gpu_stubs):
    """An engine loads only in the exact TensorRT that built it: 10.16.1.11 engine, 10.16.2.3 runtime."""
    from styleforge.runtime.backends import open_session, runner_class
    from styleforge.runtime.errors import StyleForgeError

    _, bundle, _ = engine_bundle
    gpu_stubs(cuda="sim", engines=True, version="10.16.2.3")
    v = runner_class("tensorrt").supports(bundle, "stylize")
    assert not v and "built by TensorRT 10.16.1.11, this is 10.16.2.3" in v.why
    assert open_session(bundle, "stylize", "auto").name == "ort-cpu"
    with pytest.raises(StyleForgeError, match="exact version"):
        open_session(bundle, "stylize", "tensorrt")


def test_compatible_engines_load_on_other_gpus_and_later_tensorrt(gpu_stubs, scale, monkeypatch):
    """ampere_plus engines load on any GPU of compute capability >= 8.0; version-compatible engines in later
    TensorRT of the same major (the runner then allows the plan's embedded lean runtime: host code)."""
    from styleforge.export.engines.tensorrt_build import BuildOptions, build_bundle_engines
    from styleforge.runtime.backends import open_session, runner_class
    from styleforge.runtime.bundle import open_bundle

    path, _ = scale
    gpu_stubs(cuda="sim", engines=True)
    (rec,) = build_bundle_engines(path, options=BuildOptions(contexts=1, hardware_compatibility="ampere_plus",
                                                             version_compatible=True))
    assert rec.hardware_compatibility == "ampere_plus" and rec.version_compatible and rec.compute_capability == "8.9"
    x = np.full((1, 3, 8, 8), 100.0, np.float32)
    monkeypatch.setenv("STYLEFORGE_STUB_CUDA_CC", "9.0")
    gpu_stubs(cuda="sim", engines=True, version="10.17.0.5")
    s = open_session(open_bundle(path), "stylize", "auto", allow_engine_host_code=True)  # issue 20: opt-in by name
    assert s.name == "tensorrt" and s.trt_runtime.engine_host_code_allowed
    np.testing.assert_array_equal(s.run({"image": x})["stylized"], _expected(x))
    monkeypatch.setenv("STYLEFORGE_STUB_CUDA_CC", "7.5")
    v = runner_class("tensorrt").supports(open_bundle(path), "stylize")
    assert not v and "ampere_plus engine needs compute capability >= 8.0, this GPU is 7.5" in v.why


def test_plugin_registered_only_for_engines_that_need_it(gpu_stubs, tmp_path):
    """A WhitenColor engine: the runner registers the plugin before deserialising (the simulated TensorRT refuses
    the plugin engine otherwise); an engine without the plugin does not touch tensorrt.plugin."""
    from styleforge.export.core.bundle_writer import BundleWriter
    from styleforge.export.engines.tensorrt_build import BuildOptions, build_bundle_engines
    from styleforge.kernels import trt_plugin
    from styleforge.runtime.backends import open_session
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.manifest import GraphConfig
    from styleforge.runtime.model import _import_families

    _import_families()
    w = BundleWriter(name="wc", method="wct", family="graph", interface="graph", config=GraphConfig())
    w.add_graph("whiten", trt_plugin.make_model(4))
    path = w.write(tmp_path / "wc.sfbundle")
    gpu_stubs(cuda="sim", engines=True, layout="tarball")
    (rec,) = build_bundle_engines(path, buckets=[{"fc": ((1, 4, 8),) * 3, "fs": ((1, 4, 8),) * 3}],
                                  options=BuildOptions(contexts=1))
    assert rec.plugins == ["styleforge::WhitenColor"]
    gpu_stubs(cuda="sim", engines=True, layout="tarball")   # a fresh process's state: nothing registered
    assert trt_plugin._registered is False
    s = open_session(open_bundle(path), "whiten", "tensorrt")
    import tensorrt

    assert trt_plugin._registered and tensorrt.get_plugin_registry().get_creator("WhitenColor", "1", "styleforge")
    assert s.engine is not None

    scale = write_scale_bundle(tmp_path / "s.sfbundle")
    build_bundle_engines(scale, options=BuildOptions(contexts=1))
    gpu_stubs(cuda="sim", engines=True, layout="tarball")
    open_session(open_bundle(scale), "stylize", "tensorrt").run({"image": np.zeros((1, 3, 4, 4), np.float32)})
    assert trt_plugin._registered is False and "tensorrt.plugin" not in __import__("sys").modules


# --- ONNX Runtime runners ----------------------------------------------------------------------------

def test_ort_gpu_runners_are_refused_on_the_cpu_build(scale):
    from styleforge.runtime.backends import open_session, runner_class
    from styleforge.runtime.errors import StyleForgeError

    _, bundle = scale
    for name, provider in (("ort-cuda", "CUDAExecutionProvider"), ("ort-trt", "TensorrtExecutionProvider")):
        v = runner_class(name).supports(bundle, "stylize")
        assert not v and f"has no {provider} (this is the CPU build" in v.why
        fix = "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu"
        with pytest.raises(StyleForgeError, match=f"backend '{name}' cannot run .*{fix}"):
            open_session(bundle, "stylize", name)


def test_ort_cuda_that_gets_the_cpu_is_an_error_and_auto_says_so(gpu_stubs, scale, monkeypatch, caplog):
    """onnxruntime creates a session on the CPU when CUDA does not come up (measured: a warning, then
    get_providers() == ['CPUExecutionProvider']). Asked by name, that is an error naming the cause; under auto
    the runner is skipped with a warning and the reason is kept. The GPU is the stub's simulated one, so a real
    cuda-bindings without a driver (the CUDA torch build brings one) cannot answer first."""
    import logging

    gpu_stubs(cuda="sim", trt=False)

    import onnxruntime as ort

    from styleforge.runtime.backends import ort as ort_runners
    from styleforge.runtime.backends import open_session
    from styleforge.runtime.backends.base import Verdict
    from styleforge.runtime.errors import StyleForgeError

    _, bundle = scale
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort_runners, "provider_status",
                        lambda p: Verdict.yes("libonnxruntime_providers_cuda.so loads"))
    with pytest.raises(StyleForgeError, match="asked onnxruntime for CUDAExecutionProvider and got CPUExecutionProvider"
                                              ".*refusing to run on the CPU"):
        open_session(bundle, "stylize", "ort-cuda")
    with caplog.at_level(logging.WARNING, logger="styleforge"):
        s = open_session(bundle, "stylize", "auto")
    assert s.name == "ort-cpu" and "failed to start" in s.selection.skipped["ort-cuda"]
    assert any("ort-cuda could not start" in r.getMessage() for r in caplog.records)


def test_provider_diagnosis_names_the_missing_library(monkeypatch, tmp_path):
    import ctypes

    import onnxruntime as ort

    from styleforge.runtime.backends import ort as ort_runners

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    lib = tmp_path / "libonnxruntime_providers_cuda.so"
    monkeypatch.setattr(ort_runners, "provider_library", lambda p: lib)
    v = ort_runners.provider_status("CUDAExecutionProvider")
    assert not v and "is missing" in v.why
    lib.write_bytes(b"not a library")

    def cdll(path, *a, **k):
        raise OSError("libcublasLt.so.12: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    v = ort_runners.provider_status("CUDAExecutionProvider")
    assert not v and "cannot load: missing libcublasLt.so.12" in v.why and "cudnn" in v.why
    assert not ort_runners.OrtCudaRunner.probe()


def test_ort_trt_options_cache_dir_fp16_and_profiles(scale, tmp_path):
    from styleforge.runtime.backends.ort import OrtTensorRTRunner

    _, bundle = scale
    r = OrtTensorRTRunner(bundle, "stylize", cache_dir=tmp_path / "c", trt_options={"trt_builder_optimization_level": 5})
    o = r.trt_provider_options()
    assert o["trt_engine_cache_enable"] and o["trt_timing_cache_enable"]
    assert o["trt_engine_cache_path"] == o["trt_timing_cache_path"] == str(tmp_path / "c")
    assert o["trt_fp16_enable"] is False and o["trt_builder_optimization_level"] == 5
    assert o["trt_profile_min_shapes"] == "image:1x3x1x1" and o["trt_profile_max_shapes"] == "image:4x3x1024x1024"
    bundle.manifest.precision = "fp16"
    assert OrtTensorRTRunner(bundle, "stylize", cache_dir=tmp_path / "c").trt_provider_options()["trt_fp16_enable"]


def test_ort_runners_refuse_plugin_graphs_and_chain_on_the_device(scale):
    from styleforge.runtime.backends import RUNNERS, open_session, runners

    _, bundle = scale
    bundle.manifest.model.config.plugin_graphs = ["stylize"]
    v = runners()["ort-cpu"].supports(bundle, "stylize")
    assert not v and "styleforge::WhitenColor" in v.why
    bundle.manifest.model.config.plugin_graphs = []
    s = open_session(bundle, "stylize", "ort-cpu")
    x = np.full((1, 3, 4, 4), 100.0, np.float32)
    once = s.run_device({"image": x})["stylized"]           # an OrtValue, left where the runner computes
    twice = s.run_device({"image": once})["stylized"]       # fed back without a trip through numpy
    np.testing.assert_allclose(twice.numpy(), 40.0)
    s.plain_run = False  # the GPU runners' run(): through the IOBinding, copied out with copy_outputs_to_cpu
    np.testing.assert_allclose(s.run({"image": x})["stylized"], 60.0)
    expected = {"ort-cpu": "shared", "ort-cuda": "shared", "ort-trt": "shared", "tensorrt": "context-pool"}
    if "openvino" in RUNNERS:  # runtime/backends/openvino.py (registered with or without the openvino extra)
        expected["openvino"] = "context-pool"
    assert {n: c.thread_policy for n, c in RUNNERS.items()} == expected
    assert all(c.needs for c in RUNNERS.values())


# --- the commands, end to end in a fresh process ------------------------------------------------------

def test_engine_build_stylize_validate_doctor_on_the_simulated_gpu(tmp_path, cli):
    """`styleforge engine build` → the engine is recorded; `stylize -v` picks tensorrt; `validate --backend
    tensorrt --against ort-cpu` compares the two runners under gpu-tf32; `doctor` says what loads here."""
    from PIL import Image

    bundle = write_scale_bundle(tmp_path / "s.sfbundle", interface="stylizer")
    Image.fromarray(np.full((12, 16, 3), 100, np.uint8)).save(tmp_path / "in.png")
    env = {**stub_env(cuda="sim", engines=True), "STYLEFORGE_CACHE_DIR": str(tmp_path / "cache")}
    p = cli("engine", "build", bundle, "--shapes", "image:1x3x4x4:1x3x16x16:2x3x64x64", "--opt-level", "4", env=env)
    assert p.returncode == 0, p.stderr
    assert ("built engines/stylize.sm89.trt10.16.1.11.engine (TensorRT 10.16.1.11, StyleForge Sim GPU, sm 8.9, "
            "1 profile(s) x 2 context(s))") in p.stdout
    (rec,) = json.loads((bundle / "manifest.json").read_text())["engines"]
    assert rec["builder_optimization_level"] == 4 and rec["profiles"] == [{"image": [[1, 3, 4, 4], [1, 3, 16, 16],
                                                                                     [2, 3, 64, 64]]}]
    p = cli("stylize", bundle, tmp_path / "in.png", "--out", tmp_path / "out.png", "-v", env=env)
    assert p.returncode == 0 and "graph 'stylize': runner tensorrt (auto)" in p.stderr, p.stderr
    p = cli("validate", bundle, "--backend", "tensorrt", "--against", "ort-cpu", "--json", env=env)
    rep = json.loads(p.stdout)
    assert p.returncode == 0 and rep["passed"] and rep["tolerance_profile"] == "gpu-tf32" and rep["skipped"] == 0
    assert rep["providers"] == [f"tensorrt:{rec['file']}"]
    p = cli("doctor", bundle, env=env)
    assert p.returncode == 0 and "gpu: StyleForge Sim GPU (compute capability 8.9" in p.stdout
    assert "graph 'stylize': auto picks tensorrt" in p.stdout and f"engine {rec['file']}" in p.stdout
    assert "loads here" in p.stdout
    p = cli("doctor", bundle, env={**env, "STYLEFORGE_STUB_TRT_VERSION": "10.16.2.3"})
    assert "auto picks ort-cpu" in p.stdout and "does not load here — built by TensorRT 10.16.1.11" in p.stdout


def test_engine_build_without_engine_support_is_one_line(tmp_path, cli):
    """A tensorrt that cannot build (the stub without engines, like a TensorRT on a machine without a GPU) is a
    one-line error, never a traceback; --check-only still works, it needs no TensorRT."""
    bundle = write_scale_bundle(tmp_path / "s.sfbundle")
    p = cli("engine", "build", bundle, env=stub_env(cuda="nodriver"))
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "cudaErrorInsufficientDriver" in p.stderr
    p = cli("engine", "build", bundle, env={**stub_env(cuda="sim"), "STYLEFORGE_CACHE_DIR": str(tmp_path / "c")})
    assert p.returncode == 2 and "could not start a build" in p.stderr and "Traceback" not in p.stderr
    p = cli("engine", "build", bundle, "--check-only", "--json", env=stub_env(cuda="nodriver"))
    assert p.returncode == 0 and json.loads(p.stdout)["graphs"][0]["profiles"][0]["min"] == [1, 3, 1, 1]
    p = cli("doctor", env=stub_env(cuda="nodriver"))
    assert p.returncode == 0 and "tensorrt                 10.16.1.11 (stub: no engine support)" in p.stdout
    assert "tensorrt  not usable: tensorrt 10.16.1.11 imports, but there is no usable GPU" in p.stdout


def test_engine_record_fields_are_typed_and_checked(scale):
    """EngineRecord's new fields have defaults (older records still parse) and bad values are refused in one line."""
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.errors import BundleError

    path, _ = scale
    m = json.loads((path / "manifest.json").read_text())
    old = {"role": "stylize", "file": "engines/a.engine", "tensorrt": "10.9.0.34", "compute_capability": "8.9",
           "precision": "fp32", "profiles": []}
    m["engines"] = [old]
    m["files"]["engines/a.engine"] = "0" * 64   # every file a manifest names is hash-listed (verify=False: unchecked)
    (path / "manifest.json").write_text(json.dumps(m))
    (rec,) = open_bundle(path, verify=False).manifest.engines
    assert (rec.hardware_compatibility, rec.version_compatible, rec.contexts, rec.plugins, rec.gpu) == \
        ("none", False, 1, [], None)
    m["engines"] = [{**old, "hardware_compatibility": "any_gpu"}]
    (path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="hardware_compatibility must be one of none, ampere_plus"):
        open_bundle(path, verify=False)


# --- TensorRT version matrix (export/engines/trt_features.py), plugin and timing-cache refusals --------

@pytest.mark.parametrize("version, ok", [("10.6.0", False), ("10.8.0.43", False), ("10.9.0.34", True),
                                         ("11.4.0.106", True)])
def test_same_compute_capability_needs_tensorrt_10_9(gpu_stubs, scale, version, ok):
    """Before 10.9 TensorRT has no SAME_COMPUTE_CAPABILITY level (the stub models it): one line naming 10.9,
    nothing written (it was an uncaught AttributeError)."""
    from styleforge.export.engines.tensorrt_build import BuildOptions, build_bundle_engines
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.errors import StyleForgeError

    path, _ = scale
    trt = gpu_stubs(cuda="sim", engines=True, version=version)
    assert hasattr(trt.HardwareCompatibilityLevel, "SAME_COMPUTE_CAPABILITY") == ok
    options = BuildOptions(contexts=1, hardware_compatibility="same_compute_capability")
    if ok:
        (rec,) = build_bundle_engines(path, options=options)
        assert rec.hardware_compatibility == "same_compute_capability" and rec.tensorrt == version
        return
    before = sorted(p.name for p in path.rglob("*"))
    with pytest.raises(StyleForgeError, match=rf"^--hardware-compatibility same_compute_capability needs TensorRT >= 10\.9 "
                                              rf".*this is TensorRT {version}$"):
        build_bundle_engines(path, options=options)
    assert sorted(p.name for p in path.rglob("*")) == before and open_bundle(path).manifest.engines == []


def test_every_feature_is_refused_below_its_release():
    from styleforge.export.engines.trt_features import FEATURES, require
    from styleforge.runtime.errors import StyleForgeError

    for name, f in FEATURES.items():
        require(name, f"{f.since[0]}.{f.since[1]}.0.1")
        below = f"{f.since[0]}.{f.since[1] - 1}.0" if f.since[1] else f"{f.since[0] - 1}.9.0"
        with pytest.raises(StyleForgeError, match=rf"needs TensorRT >= {f.since[0]}\.{f.since[1]} .*TensorRT {below}$"):
            require(name, below)


def test_version_matrix_in_docs_is_the_one_in_code():
    from pathlib import Path

    from styleforge.export.engines.trt_features import markdown_table

    docs = (Path(__file__).resolve().parents[1] / "docs" / "gpu.md").read_text()
    assert markdown_table() in docs


def test_version_compatible_plugin_engine_is_refused_before_building(gpu_stubs, tmp_path):
    """A version-compatible plan runs on its own lean runtime and plugin registry; the Python plugin is registered
    globally only. Unverified on a GPU, so refused in one line, before any build."""
    from styleforge.export.core.bundle_writer import BundleWriter
    from styleforge.export.engines.tensorrt_build import BuildOptions, build_bundle_engines
    from styleforge.kernels import trt_plugin
    from styleforge.runtime.errors import StyleForgeError
    from styleforge.runtime.manifest import GraphConfig
    from styleforge.runtime.model import _import_families

    _import_families()
    w = BundleWriter(name="wc", method="wct", family="graph", interface="graph", config=GraphConfig())
    w.add_graph("whiten", trt_plugin.make_model(4))
    path = w.write(tmp_path / "wc.sfbundle")
    gpu_stubs(cuda="sim", engines=True, layout="tarball")
    with pytest.raises(StyleForgeError, match=r"--version-compatible with the WhitenColor plugin is refused") as e:
        build_bundle_engines(path, buckets=[{"fc": ((1, 4, 8),) * 3, "fs": ((1, 4, 8),) * 3}],
                             options=BuildOptions(contexts=1, version_compatible=True))
    assert "\n" not in str(e.value) and trt_plugin._registered is False


def test_corrupt_timing_cache_is_set_aside_and_rebuilt(gpu_stubs, scale, tmp_path, capsys):
    from styleforge.export.engines import timing_cache as tc
    from styleforge.export.engines.tensorrt_build import BuildOptions, build_bundle_engines

    path, _ = scale
    gpu_stubs(cuda="sim", engines=True)
    cache = tc.default_path("10.16.1.11", "StyleForge Sim GPU", "8.9")
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"\x00not a timing cache")
    (rec,) = build_bundle_engines(path, options=BuildOptions(contexts=1))
    err = capsys.readouterr().err
    assert "could not be read by TensorRT; moved to timing.cache.corrupt" in err and rec.timing_cache == ""
    assert cache.with_name("timing.cache.corrupt").read_bytes() == b"\x00not a timing cache"
    (again,) = build_bundle_engines(path, options=BuildOptions(contexts=1))
    assert len(again.timing_cache) == 64 and "could not be read" not in capsys.readouterr().err
