"""``styleforge doctor``: what this machine can run, and why not the rest. Versions (Python, numpy,
onnxruntime and its providers, torch, tensorrt, cuda-python), the GPU and its compute capability, every
runner's ``probe()`` verdict; for a bundle, which runner ``auto`` picks per graph and which of its engines
match this GPU and TensorRT. Torch is never imported (its version comes from package metadata)."""
from __future__ import annotations

import importlib.metadata as md
import platform
import shutil
import subprocess
import sys


def _dist_version(*names: str) -> str | None:
    for n in names:
        try:
            return md.version(n)
        except md.PackageNotFoundError:
            continue
    return None


def _plugin_module() -> str | None:
    """Where this TensorRT keeps ``tensorrt.plugin`` (split pip wheels 10.6-10.13: ``tensorrt_bindings.plugin``);
    the same import the plugin registration uses (TensorRT logs that the module is experimental)."""
    from ..kernels.trt_plugin import tensorrt_plugin_module

    try:
        return tensorrt_plugin_module().__name__
    except ImportError:
        return None


def versions() -> dict:
    import numpy

    out = {"python": platform.python_version(), "numpy": numpy.__version__}
    try:
        import onnxruntime as ort

        out["onnxruntime"] = ort.__version__
        out["onnxruntime_providers"] = list(ort.get_available_providers())
    except ImportError as e:
        out["onnxruntime"] = f"missing ({e})"
    out["torch"] = _dist_version("torch") or "not installed"
    try:
        import tensorrt as trt

        out["tensorrt"] = trt.__version__ + (" (stub: no engine support)" if getattr(trt, "__stub__", False) else "")
        out["tensorrt_plugin_module"] = _plugin_module() or "missing (the WhitenColor plugin needs tensorrt>=10.6)"
    except ImportError:
        out["tensorrt"] = "not installed"
    cp = _dist_version("cuda-python", "cuda-bindings")
    try:
        from cuda.bindings import runtime as rt

        rv, dv = rt.cudaRuntimeGetVersion(), rt.cudaDriverGetVersion()
        out["cuda-python"] = (f"{cp or '?'} (CUDA runtime {rv[1] if int(rv[0]) == 0 else '?'}, "
                              f"driver {dv[1] if int(dv[0]) == 0 else '?'})")
    except ImportError:
        out["cuda-python"] = f"{cp} (no cuda.bindings: needs >= 12.6.2.post1)" if cp else "not installed"
    from . import cuda_stack  # CUDA majors of torch, cuda-python, TensorRT, onnxruntime-gpu: one line, with the fix

    out["cuda_stack"] = cuda_stack.check()
    if note := cuda_stack.ort_tensorrt_note():
        out["ort_tensorrt"] = note
    return out


def gpu() -> dict:
    """The GPU as cuda-python sees it, else as nvidia-smi does; ``{"error": ...}`` when there is none."""
    from .backends.cuda import device_info
    from .errors import StyleForgeError

    try:
        info = device_info()
        return {"name": info.name, "compute_capability": info.compute_capability, "devices": info.count,
                "source": "cuda-python"}
    except StyleForgeError as e:
        why = str(e)
    if shutil.which("nvidia-smi"):
        try:
            p = subprocess.run(["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=20)
            rows = [r.split(",") for r in p.stdout.strip().splitlines() if "," in r]
            if p.returncode == 0 and rows:
                return {"name": rows[0][0].strip(), "compute_capability": rows[0][1].strip(), "devices": len(rows),
                        "source": "nvidia-smi", "cuda-python": why}
        except (OSError, subprocess.TimeoutExpired):
            pass
    return {"error": why}


def runner_report() -> list[dict]:
    from .backends import runners

    out = []
    for name, cls in runners().items():
        v = cls.probe()
        out.append({"runner": name, "usable": v.ok, "why": v.why, "needs": list(cls.needs),
                    "threads": cls.thread_policy})
    return out


def bundle_report(path) -> dict:
    """Per graph: which runner ``auto`` picks (and why not the others: the one selection function), the
    verdict of every runner of the runtime, and nodes ``ort-cuda`` would place on the CPU; per engine: does it
    load here. Reference runners (torch-eager, torch-cuda) are left out: asking them would import torch."""
    from .backends import select_runner
    from .backends.engines import engine_matches
    from .bundle import open_bundle

    bundle = open_bundle(path)
    graphs = []
    for role in bundle.graphs:
        sel = select_runner("auto", bundle, role, every=True)
        verdicts = {n: {"ok": n in sel.candidates, "why": sel.skipped.get(n, "")} for n in sel.candidates + list(sel.skipped)}
        for n, cls in _bundle_runners().items():
            if n not in verdicts:
                v = cls.supports(bundle, role)
                verdicts[n] = {"ok": v.ok, "why": v.why}
        row = {"role": role, "auto": sel.chosen, "runners": verdicts}
        if verdicts.get("ort-cuda", {}).get("ok"):
            row["ort_cuda_cpu_nodes"] = _cpu_nodes(bundle, role)
        graphs.append(row)
    engines = []
    here = _engine_environment()
    for e in bundle.manifest.engines:
        row = {"file": e.file, "role": e.role, "tensorrt": e.tensorrt, "compute_capability": e.compute_capability,
               "gpu": e.gpu, "hardware_compatibility": e.hardware_compatibility, "profiles": len(e.profiles),
               "contexts": e.contexts, "plugins": e.plugins}
        if "error" in here:
            row.update(matches=None, why=f"cannot tell here: {here['error']}")
        else:
            v = engine_matches(e, trt_version=here["tensorrt"], cc=here["cc"], gpu=here["gpu"])
            row.update(matches=v.ok, why=v.why)
        engines.append(row)
    return {"bundle": str(path), "model": bundle.name, "graphs": graphs, "engines": engines, "tuning": _tuning(bundle)}


def _tuning(bundle) -> dict | None:
    """The bundle's tuning record as doctor shows it: winner, host, and whether ``auto`` uses it here (and why not)."""
    from .tuning import tuned_choice

    rec = bundle.manifest.tuning
    if rec is None:
        return None
    name, _, note = tuned_choice(bundle)
    return {"runner": rec.runner, "options": rec.options, "variant": rec.variant, "host": rec.host.cpu,
            "used": name is not None, "why": note}


def _bundle_runners() -> dict:
    from .backends import runners

    return {n: cls for n, cls in runners().items() if not cls.reference}


def _cpu_nodes(bundle, role: str):
    """The nodes ``ort-cuda`` places on the CPU for this graph (a session is created to know), or the error."""
    from .backends import open_session
    from .errors import StyleForgeError

    try:
        runner = open_session(bundle, role, "ort-cuda")
    except StyleForgeError as e:
        return f"cannot tell: {e}"
    try:
        return runner.cpu_nodes
    finally:
        runner.deactivate()


def _engine_environment() -> dict:
    from .backends.cuda import device_info
    from .errors import StyleForgeError

    try:
        import tensorrt as trt
    except ImportError:
        return {"error": "tensorrt is not installed"}
    try:
        info = device_info()
    except StyleForgeError as e:
        return {"error": str(e)}
    return {"tensorrt": trt.__version__, "cc": info.compute_capability, "gpu": info.name}


def doctor(bundle=None) -> dict:
    report = {"versions": versions(), "gpu": gpu(), "runners": runner_report()}
    if bundle is not None:
        report["bundle"] = bundle_report(bundle)
    return report


def format_doctor(report: dict) -> str:
    lines = ["versions:"]
    for k, v in report["versions"].items():
        lines.append(f"  {k:<24} {', '.join(v) if isinstance(v, list) else v}")
    g = report["gpu"]
    lines.append("gpu: " + (f"{g['name']} (compute capability {g['compute_capability']}, {g['devices']} device(s), "
                            f"via {g['source']})" if "name" in g else f"none ({g['error']})"))
    lines.append("runners:")
    for r in report["runners"]:
        state = "usable" if r["usable"] else "not usable"
        needs = "" if r["usable"] else f"  [needs: {'; '.join(r['needs'])}]"
        lines.append(f"  {r['runner']:<9} {state}: {r['why']}{needs}")
    b = report.get("bundle")
    if b:
        lines.append(f"bundle {b['bundle']} ({b['model']}):")
        for gr in b["graphs"]:
            lines.append(f"  graph {gr['role']!r}: auto picks {gr['auto'] or 'nothing'}")
            cpu = gr.get("ort_cuda_cpu_nodes")
            if cpu:
                lines.append(f"    ort-cuda places {len(cpu)} node(s) on the CPU: {', '.join(cpu)}"
                             if isinstance(cpu, list) else f"    ort-cuda: {cpu}")
            for n, v in gr["runners"].items():
                if not v["ok"]:
                    lines.append(f"    {n}: no — {v['why']}")
        t = b.get("tuning")
        if t:
            lines.append(f"  tuning: {t['variant']} on {t['runner']} {t['options']} — " + (
                "used by auto on this host" if t["used"] else
                f"made for another host, auto falls back to its rule ({t['why']})"))
        if not b["engines"]:
            lines.append("  engines: none (styleforge engine build BUNDLE)")
        for e in b["engines"]:
            ok = {True: "loads here", False: "does not load here", None: "unknown"}[e["matches"]]
            lines.append(f"  engine {e['file']} ({e['role']}, TensorRT {e['tensorrt']}, sm {e['compute_capability']}, "
                         f"{e['gpu'] or 'gpu ?'}): {ok}" + (f" — {e['why']}" if e["why"] else ""))
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(format_doctor(doctor(sys.argv[1] if len(sys.argv) > 1 else None)))
