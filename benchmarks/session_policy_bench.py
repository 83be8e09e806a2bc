"""ONNX Runtime session policy and the runtime's overhead, in one command (issue 19 item 2, docs/deploy.md
"Session policy"):

    python3 benchmarks/session_policy_bench.py [--bundle B.sfbundle] [--size 512] [--threads 2] [--runs 11] [--json F]

1. **Policy grid** on one graph (default: a third-party Johnson-style net exported by torch.onnx, NHWC in [0, 1],
   imported; or --bundle's first graph): bare ``InferenceSession.run`` on a prepared tensor with ONNX Runtime's
   defaults, then one option changed at a time — spinning off, threads 1, memory arena off, graph optimisation
   basic / extended, parallel execution — each row's median over ORT's defaults.
2. **Overhead, every CPU runner**: the runtime's ``model(image)`` (uint8 picture in and out) against a bare session
   of the same engine with its own defaults, with and without the user's own pre/post-processing (scale, run,
   clamp, round): ONNX Runtime (``load(b, backend="ort-cpu")`` vs ``InferenceSession(path)``) and OpenVINO
   (``load(b, backend="openvino")`` vs ``Core().compile_model(path, "CPU")``). Target: ≤ 1.05×.

Interleaved (each timed call right after an untimed one of the same row). Prints the CPU model and the load.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import variants_bench as vb  # noqa: E402  (maps the sources when styleforge is not installed; the foreign net)

from peers_bench import cpu_model  # noqa: E402


def interleaved(fns: dict, runs: int) -> dict:
    """{key: median ms}, interleaved as `styleforge bench` times (runtime/latency.py)."""
    from styleforge.runtime.latency import _run_interleaved

    _, times = _run_interleaved(dict(fns), runs, 1, {})
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def ort_session(path: str, *, threads=None, spinning=None, arena=True, level="all", parallel=False):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    if spinning is not None:
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    so.enable_cpu_mem_arena = arena
    so.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                   "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                                   "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    if parallel:
        so.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default=None, help="policy grid on this bundle's first graph instead")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2, help="the runtime's threads (bare sessions: their defaults)")
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    import openvino as ov

    from styleforge.export.onnx_import.api import import_onnx
    from styleforge.runtime import load

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="sf-policy-"))
    src = work / "foreign_stylizer.onnx"
    src.write_bytes(vb.foreign_stylizer_onnx())
    bundle, _ = import_onnx(src, work / "foreign.sfbundle", interface="stylizer", value_range="0,1", multiple_of=4)
    img = vb.picture("astronaut", a.size)
    x = img[None].astype(np.float32) / 255.0

    grid_path, feeds = str(src), {"x": x}
    if a.bundle:
        from styleforge.runtime.bundle import open_bundle
        from styleforge.runtime.io_plan import image_io

        b = open_bundle(a.bundle)
        g = b.manifest.graphs[0]
        grid_path = str(b.file(g.file))
        feeds = {g.inputs[0].name: image_io(g.inputs[0]).encode(img[None])}
        feeds.update({t.name: np.zeros([1 if not isinstance(d, int) else d for d in t.shape], np.int64)
                      for t in g.inputs[1:]})
    grid = {"ORT defaults": {}, "spinning off": {"spinning": False}, "threads 1": {"threads": 1},
            "memory arena off": {"arena": False}, "optimisation basic": {"level": "basic"},
            "optimisation extended": {"level": "extended"}, "parallel execution": {"parallel": True}}
    sessions = {k: ort_session(grid_path, **v) for k, v in grid.items()}
    policy = interleaved({k: (lambda s=s: s.run(None, feeds)) for k, s in sessions.items()}, a.runs)

    def user(run):  # what a user of the bare model writes around it
        def f():
            y = run({"x": img[None].astype(np.float32) / 255.0})[0]
            return np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8)
        return f

    bare_ort = ort_session(str(src))
    core = ov.Core()
    bare_ov = core.compile_model(str(src), "CPU")
    rt_ort, rt_ov = load(bundle, backend="ort-cpu", threads=a.threads), load(bundle, backend="openvino", threads=a.threads)
    fns = {"ort bare run": lambda: bare_ort.run(None, {"x": x}),
           "ort bare + user pre/post": user(lambda f: bare_ort.run(None, f)),
           "ort model(image)": lambda: rt_ort(img),
           "openvino bare run": lambda: bare_ov({"x": x}),
           "openvino bare + user pre/post": user(lambda f: list(bare_ov(f).values())),
           "openvino model(image)": lambda: rt_ov(img)}
    over = interleaved(fns, a.runs)
    result = {"cpu": cpu_model(), "load_before": load_before, "load_after": os.getloadavg(), "size": a.size,
              "threads": a.threads, "runs": a.runs, "policy_ms": policy, "overhead_ms": over,
              "ratios": {e: {"vs bare run": over[f"{e} model(image)"] / over[f"{e} bare run"],
                             "vs bare + user pre/post": over[f"{e} model(image)"] / over[f"{e} bare + user pre/post"]}
                         for e in ("ort", "openvino")}}
    print(f"{result['cpu']}, {a.size}², runs {a.runs}; load {load_before[0]:.2f} → {result['load_after'][0]:.2f}")
    print(f"policy grid ({'bundle ' + a.bundle if a.bundle else 'third-party Johnson-style net'}), median ms:")
    for k, v in policy.items():
        print(f"  {k:<24} {v:8.1f}  {v / policy['ORT defaults']:.3f}x")
    print("overhead, median ms:")
    for k, v in over.items():
        print(f"  {k:<32} {v:8.1f}")
    for e, r in result["ratios"].items():
        print(f"  {e}: model(image) / bare run {r['vs bare run']:.3f}x, / bare + user pre/post {r['vs bare + user pre/post']:.3f}x")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
