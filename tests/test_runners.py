"""One runner abstraction (issue 18 item 3): loaders apart from runners and a strict lifecycle, ONE selection
function, the PyTorch model as a runner like the others (registered lazily), typed results, bench rows for
every runner through the same path; fallback detection of the ONNX Runtime GPU runners (issue 21 item 6) and
the opt-in for TensorRT engine host code (issue 20 item 2). No GPU: onnxruntime's providers are faked by
monkeypatching, TensorRT and cuda-python are the stubs of tests/stubs."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gpu_stubs import gpu_stubs  # noqa: F401  (fixture)
from helpers import write_scale_bundle

X = np.full((1, 3, 8, 8), 100.0, np.float32)


@pytest.fixture
def scale(tmp_path):
    from styleforge.runtime.bundle import open_bundle

    path = write_scale_bundle(tmp_path / "s.sfbundle")
    return path, open_bundle(path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny stylizer trained for one step and exported (its manifest names the source checkpoint)."""
    import torch

    from styleforge.export.core.api import export_checkpoint
    from styleforge.train.stylizer.trainer import train_stylizer

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        d = tmp_path_factory.mktemp("runners")
        ck = train_stylizer(["sample:mosaic"], d / "st", steps=1, size=32, batch=1, width_mult=0.125, progress=False)
        yield export_checkpoint(ck, d / "st.sfbundle")
    finally:
        torch.set_num_threads(before)


# --- lifecycle: loaders build, runners run --------------------------------------------------------------

def test_lifecycle_is_strict_and_the_loader_is_called_once(scale):
    from styleforge.runtime.backends import runner_class
    from styleforge.runtime.backends.ort import OrtSessionLoader
    from styleforge.runtime.errors import StyleForgeError

    _, bundle = scale
    built = []
    real = OrtSessionLoader(bundle, "stylize", ["CPUExecutionProvider"])

    def loader():
        built.append(1)
        return real()

    r = runner_class("ort-cpu")(bundle, "stylize", loader=loader)
    assert not r.is_active and built == []           # building a runner loads nothing
    np.testing.assert_allclose(r.run({"image": X})["stylized"], 60.0)  # never activated: run activates it
    r.activate()
    r.activate()                                      # a second activate is a no-op
    assert built == [1] and r.is_active
    r.deactivate()
    r.deactivate()
    with pytest.raises(StyleForgeError, match="was deactivated; call activate"):
        r.run({"image": X})
    with r:                                           # activate again (the loader runs again), then release
        assert r.infer({"image": X}).outputs["stylized"][0, 0, 0, 0] == 60.0
    assert built == [1, 1] and not r.is_active


def test_graph_bytes_is_what_ort_sessions_are_built_from(scale, monkeypatch):
    from styleforge.runtime.backends import open_session
    from styleforge.runtime.bundle import Bundle

    _, bundle = scale
    read = []
    original = Bundle.graph_bytes
    monkeypatch.setattr(Bundle, "graph_bytes", lambda self, role: read.append(role) or original(self, role))
    open_session(bundle, "stylize", "ort-cpu")
    assert read == ["stylize"]


# --- one selection function ---------------------------------------------------------------------------

def test_one_selection_function_for_open_session_resolve_doctor_and_validation(scale):
    from styleforge.runtime.backends import open_session, resolve_backend, select_runner
    from styleforge.runtime.doctor import bundle_report
    from styleforge.runtime.errors import StyleForgeError
    from styleforge.runtime.validation import validate_bundle

    path, bundle = scale
    sel = select_runner("auto", bundle, "stylize")
    assert sel.ok and sel.chosen == "ort-cpu" and set(sel.skipped) == {"tensorrt", "ort-cuda"}
    assert all(sel.skipped.values())                              # every skip says why
    assert resolve_backend("auto", bundle, "stylize") == "ort-cpu"
    s = open_session(bundle, "stylize", "auto")
    assert s.selection.chosen == "ort-cpu" and s.selection.skipped == sel.skipped
    named = select_runner("ort-cuda", bundle, "stylize")
    assert not named.ok and "CUDAExecutionProvider" in named.why_not()
    with pytest.raises(StyleForgeError, match="backend 'ort-cuda' cannot run graph 'stylize'"):
        open_session(bundle, "stylize", "ort-cuda")
    with pytest.raises(StyleForgeError, match="unknown backend|no-such"):
        select_runner("no-such", bundle, "stylize")
    (graph,) = bundle_report(path)["graphs"]
    assert graph["auto"] == sel.chosen and not graph["runners"]["ort-cuda"]["ok"]
    report = validate_bundle(path, backend="ort-cuda")               # a named runner that cannot: cases skipped
    assert not report["passed"] and report["skipped"] == len(bundle.golden) >= 1
    assert "CUDAExecutionProvider" in report["error"]


def test_a_new_runner_is_one_module_found_by_the_package_scan():
    from styleforge.runtime import backends
    from styleforge.runtime.discovery import children

    names = children("styleforge.runtime.backends")
    assert {"ort", "tensorrt", "pytorch", "openvino"} <= set(names)   # openvino.py: one module, no list edited
    assert backends.auto_order() == ["tensorrt", "ort-cuda", "ort-cpu", "openvino"]
    assert set(backends.runners()) >= {"ort-cpu", "ort-cuda", "ort-trt", "tensorrt", "torch-eager", "torch-cuda"}


def test_supports_is_the_base_classes_probe_plugin_refusal_then_the_runners_hook(scale, monkeypatch):
    """A runner overrides probe() and _supports() only: the base class asks probe first (its no is the answer), refuses
    TensorRT plugin graphs for runners that cannot load them, then the hook (None: the probe's yes stands); the options
    select_runner is given reach the hook."""
    from styleforge.export.core.torch_backend import TorchCudaRunner, TorchEagerRunner
    from styleforge.runtime.backends import RUNNERS, Runner, Verdict, runners, select_runner

    _, bundle = scale
    asked = []

    class Fake(Runner):
        name = "fake"
        refuses_plugin_graphs = True
        here = True

        @classmethod
        def probe(cls):
            return Verdict.yes("fake 1.0") if cls.here else Verdict.no("no fake library")

        @classmethod
        def _supports(cls, bundle, role, options):
            asked.append(dict(options))
            return Verdict.no("no fast path") if options.get("picky") else None

    monkeypatch.setitem(RUNNERS, "fake", Fake)
    assert Fake.supports(bundle, "stylize") == Verdict.yes("fake 1.0") and asked == [{}]
    sel = select_runner("fake", bundle, "stylize", options={"picky": True})
    assert not sel.ok and sel.skipped == {"fake": "no fast path"} and asked[-1] == {"picky": True}
    bundle.manifest.model.config.plugin_graphs = ["stylize"]
    assert "styleforge::WhitenColor" in Fake.supports(bundle, "stylize").why and len(asked) == 2  # hook not asked
    bundle.manifest.model.config.plugin_graphs = []
    Fake.here = False
    assert Fake.supports(bundle, "stylize") == Verdict.no("no fake library") and len(asked) == 2
    for cls in [*runners().values(), TorchEagerRunner, TorchCudaRunner]:  # every runner follows the recipe
        assert "supports" not in vars(cls) and "supports_with" not in vars(cls), cls.name


# --- the PyTorch model is a runner --------------------------------------------------------------------

def test_torch_runner_is_named_without_importing_torch(scale):
    """Registered by module path: the runtime lists torch-eager, and says what it needs, with torch blocked."""
    path, _ = scale
    code = textwrap.dedent(f"""
        import sys; sys.modules['torch'] = None
        from styleforge.runtime.backends import runners, select_runner
        from styleforge.runtime.bundle import open_bundle
        assert 'torch-eager' in runners() and 'torch-cuda' in runners()
        sel = select_runner('torch-eager', open_bundle({str(path)!r}), 'stylize')
        print('WHY', sel.why_not())
        assert 'torch' not in [k for k, v in sys.modules.items() if v is not None]
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "needs torch and styleforge[train]" in p.stdout


def test_torch_eager_is_a_runner_like_the_others(tiny):
    from styleforge.runtime.backends import open_session, select_runner
    from styleforge.runtime.backends.base import RunResult, Runner
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.validation import validate_bundle

    bundle = open_bundle(tiny)
    assert select_runner("torch-eager", bundle, "stylize").ok
    t = open_session(bundle, "stylize", "torch-eager")
    assert isinstance(t, Runner) and t.name == "torch-eager" and t.selection.chosen == "torch-eager"
    feeds, _ = bundle.golden_arrays(bundle.golden[0])
    res = t.infer(feeds)
    assert isinstance(res, RunResult) and res.runner == "torch-eager" and res.role == "stylize" and res.seconds > 0
    ref = open_session(bundle, "stylize", "ort-cpu").infer(feeds)
    out = bundle.graph("stylize").outputs[0].name
    assert np.abs(res.outputs[out] - ref.outputs[out]).max() < 0.05 * 255
    assert res.to_dict()["selection"]["requested"] == "torch-eager"
    t.deactivate()
    report = validate_bundle(tiny, backend="ort-cpu", against="torch-eager")   # validate --against: no special case
    assert report["passed"] and {c["reference"] for c in report["cases"]} == {"torch-eager"}


def test_bench_runs_torch_rows_through_the_runner_path(tiny, monkeypatch):
    from styleforge.runtime import latency

    seen = []
    original = latency.runtime_contender
    monkeypatch.setattr(latency, "runtime_contender", lambda b, backend, *a, **k: seen.append(backend) or
                        original(b, backend, *a, **k))
    report = latency.benchmark([tiny], sizes="16", backends=["ort-cpu", "torch-eager"], runs=1, warmup=0, threads=1,
                               with_torch=False)
    assert seen == ["ort-cpu", "torch-eager"]
    rows = {r["backend"]: r for r in report["rows"]}
    assert rows["torch-eager"]["reference"] and not rows["ort-cpu"]["reference"]
    assert rows["torch-eager"]["precision"] == "fp32" and rows["torch-eager"]["median_ms"] > 0
    assert rows["torch-eager"]["psnr_db"] == "inf" or rows["torch-eager"]["psnr_db"] > 40


# --- issue 21 item 6: fallback detection ----------------------------------------------------------------

def test_parse_placement_reads_onnx_runtime_node_placements():
    from styleforge.runtime.backends.ort import parse_placement

    log = "\n".join([
        "2026 [V:onnxruntime:, session_state.cc:1 VerifyEachNodeIsAssignedToAnEp] Node placements",
        "2026 [V:onnxruntime:, session_state.cc:2 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on "
        "[CUDAExecutionProvider]. Number of nodes: 2",
        "2026 [V:onnxruntime:, session_state.cc:3 VerifyEachNodeIsAssignedToAnEp]   Conv (c1)",
        "2026 [V:onnxruntime:, session_state.cc:3 VerifyEachNodeIsAssignedToAnEp]   Relu (r1)",
        "2026 [V:onnxruntime:, session_state.cc:2 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on "
        "[CPUExecutionProvider]. Number of nodes: 1",
        "2026 [V:onnxruntime:, session_state.cc:3 VerifyEachNodeIsAssignedToAnEp]   Shape (s1)",
        "2026 [V:onnxruntime:, session_state.cc:9 CreateGraphInfo] SaveMLValueNameIndexMapping",
    ])
    assert parse_placement(log) == {"CUDAExecutionProvider": ["Conv (c1)", "Relu (r1)"],
                                    "CPUExecutionProvider": ["Shape (s1)"]}
    one = "x [V:onnxruntime:, s.cc:1 VerifyEachNodeIsAssignedToAnEp]  All nodes placed on [CPUExecutionProvider]. " \
          "Number of nodes: 3"
    assert parse_placement(one) == {"CPUExecutionProvider": ["all 3 nodes"]}


class _Claims:
    """A real CPU session that reports the providers a GPU session would (for ORT's fallback paths)."""

    def __init__(self, session, providers):
        self._s, self._p = session, providers

    def get_providers(self):
        return list(self._p)

    def __getattr__(self, name):
        return getattr(self._s, name)


def _fake_gpu_ort(monkeypatch, providers, placement):
    import onnxruntime as ort

    from styleforge.runtime.backends import ort as ort_runners
    from styleforge.runtime.backends.base import Verdict

    monkeypatch.setattr(ort, "get_available_providers", lambda: [*providers, "CPUExecutionProvider"])
    monkeypatch.setattr(ort_runners, "provider_status", lambda p: Verdict.yes("loads"))
    monkeypatch.setattr(ort_runners, "_preload_gpu_libraries", lambda: None)
    monkeypatch.setitem(sys.modules, "cuda", None)  # no cuda-python: the GPU is checked at session creation

    def node_placement(create):  # onnxruntime (CPU build) falls back to the CPU itself; the wrapper claims the GPU
        return _Claims(create(3), [*providers, "CPUExecutionProvider"]), placement

    monkeypatch.setattr(ort_runners, "node_placement", node_placement)
    for cls in (ort_runners.OrtCudaRunner, ort_runners.OrtTensorRTRunner):  # run on the CPU through plain run()
        monkeypatch.setattr(cls, "plain_run", True)


def test_ort_trt_on_which_tensorrt_took_no_node_is_an_error_and_a_reason_under_auto(scale, monkeypatch, tmp_path):
    from styleforge.runtime.backends import open_session
    from styleforge.runtime.backends.ort import OrtTensorRTRunner
    from styleforge.runtime.errors import StyleForgeError

    _, bundle = scale
    _fake_gpu_ort(monkeypatch, ["TensorrtExecutionProvider", "CUDAExecutionProvider"],
                  {"CUDAExecutionProvider": ["all 1 nodes"]})
    with pytest.raises(StyleForgeError, match="TensorRT took no node of graph 'stylize'"):
        open_session(bundle, "stylize", "ort-trt", cache_dir=tmp_path / "c")
    monkeypatch.setattr(OrtTensorRTRunner, "auto_rank", 1)  # as if auto tried it first
    s = open_session(bundle, "stylize", "auto", cache_dir=tmp_path / "c")
    assert s.name == "ort-cuda" and "TensorRT took no node" in s.selection.skipped["ort-trt"]


def test_ort_cuda_cpu_nodes_reach_doctor_and_validation_reports(scale, monkeypatch):
    from styleforge.runtime.doctor import bundle_report, format_doctor
    from styleforge.runtime.validation import validate_bundle

    path, bundle = scale
    _fake_gpu_ort(monkeypatch, ["CUDAExecutionProvider"],
                  {"CUDAExecutionProvider": ["Mul (m)"], "CPUExecutionProvider": ["Add (a)"]})
    report = validate_bundle(path, backend="ort-cuda")
    assert report["runner_notes"] == {"stylize": {"cpu_nodes": ["Add (a)"]}}
    b = bundle_report(path)
    assert b["graphs"][0]["ort_cuda_cpu_nodes"] == ["Add (a)"]
    text = format_doctor({"versions": {}, "gpu": {"error": "-"}, "runners": [], "bundle": b})
    assert "ort-cuda places 1 node(s) on the CPU: Add (a)" in text


# --- issue 20 item 2: engine host code only when asked by name -------------------------------------------

def test_version_compatible_engines_need_the_host_code_opt_in(gpu_stubs, scale):
    from styleforge.export.engines.tensorrt_build import BuildOptions, build_bundle_engines
    from styleforge.runtime.backends import open_session, runner_class, select_runner
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.errors import StyleForgeError

    path, _ = scale
    gpu_stubs(cuda="sim", engines=True)
    build_bundle_engines(path, options=BuildOptions(contexts=1, version_compatible=True))
    bundle = open_bundle(path)
    v = runner_class("tensorrt").supports(bundle, "stylize")
    assert not v and "--allow-engine-host-code" in v.why and "\n" not in v.why
    s = open_session(bundle, "stylize", "auto")                      # auto never turns host code on
    assert s.name == "ort-cpu" and "--allow-engine-host-code" in s.selection.skipped["tensorrt"]
    with pytest.raises(StyleForgeError, match="allow-engine-host-code"):
        open_session(bundle, "stylize", "tensorrt")
    assert select_runner("tensorrt", bundle, "stylize", options={"allow_engine_host_code": True}).ok
    t = open_session(bundle, "stylize", "tensorrt", allow_engine_host_code=True)
    assert t.trt_runtime.engine_host_code_allowed
    np.testing.assert_allclose(t.run({"image": X})["stylized"], 60.0)


def test_plain_engines_never_allow_host_code(gpu_stubs, scale):
    from styleforge.export.engines.tensorrt_build import BuildOptions, build_bundle_engines
    from styleforge.runtime.backends import open_session
    from styleforge.runtime.bundle import open_bundle

    path, _ = scale
    gpu_stubs(cuda="sim", engines=True)
    build_bundle_engines(path, options=BuildOptions(contexts=1))
    t = open_session(open_bundle(path), "stylize", "tensorrt", allow_engine_host_code=True)
    assert not getattr(t.trt_runtime, "engine_host_code_allowed", False)


def test_every_bundle_command_takes_the_host_code_flag():
    from styleforge.runtime.cli import backend_options, build_cli

    cli = build_cli()
    argv = {"stylize": ["b", "x.png", "--out", "o.png"], "translate": ["b", "x.png", "--out", "o.png"],
            "generate": ["b", "--out", "o.png"], "validate": ["b"],
            "serve": ["b"], "bench": ["b"]}
    for cmd, rest in argv.items():
        args = cli.parser.parse_args([cmd, *rest, "--allow-engine-host-code"])
        assert backend_options(args) == {"allow_engine_host_code": True}, cmd
        assert backend_options(cli.parser.parse_args([cmd, *rest])) == {}, cmd
