"""Validate a bundle: run a backend on the golden inputs and compare with the PyTorch outputs
stored at export, per output, against the manifest's tolerances."""
from __future__ import annotations

import json
import time
from dataclasses import asdict

import numpy as np

from .bundle import open_bundle, update_bundle
from .manifest import Tolerance, ValidationRecord, profile_name

METRICS = ("max_abs", "mean_abs", "p99_abs", "cosine", "psnr")


def compare(actual: np.ndarray, expected: np.ndarray, data_range: float) -> dict[str, float]:
    """Error metrics between two arrays of the same shape (float64 maths)."""
    if actual.shape != expected.shape:
        return {"shape_mismatch": f"{list(actual.shape)} vs {list(expected.shape)}"}
    a = actual.astype(np.float64).ravel()
    e = expected.astype(np.float64).ravel()
    d = np.abs(a - e)
    mse = float(np.mean(d * d)) if d.size else 0.0
    na, ne = np.linalg.norm(a), np.linalg.norm(e)
    cos = float(a @ e / (na * ne)) if na > 0 and ne > 0 else float(na == ne)
    psnr = float("inf") if mse == 0 else float(10 * np.log10(data_range ** 2 / mse))
    return {
        "max_abs": float(d.max(initial=0.0)),
        "mean_abs": float(d.mean()) if d.size else 0.0,
        "p99_abs": float(np.percentile(d, 99)) if d.size else 0.0,
        "cosine": cos,
        "psnr": psnr,
    }


def check(metrics: dict, tol: Tolerance) -> list[str]:
    """Names of the tolerances these metrics break (empty list: pass)."""
    if "shape_mismatch" in metrics:
        return ["shape"]
    failed = []
    for key in ("max_abs", "mean_abs", "p99_abs"):
        limit = getattr(tol, key)
        if limit is not None and not metrics[key] <= limit:
            failed.append(key)
    if tol.min_cosine is not None and not metrics["cosine"] >= tol.min_cosine:
        failed.append("cosine")
    if tol.min_psnr is not None and not metrics["psnr"] >= tol.min_psnr:
        failed.append("psnr")
    return failed


def _output_range(graph, name: str) -> float:
    spec = graph.output(name)
    if spec is not None and spec.range:
        lo, hi = spec.range
        return float(hi - lo)
    return 1.0


def validate_bundle(path, backend: str = "ort-cpu", *, write_report: bool = True, **options) -> dict:
    """Run every golden case of a bundle on `backend`; returns the report (``report["passed"]``)."""
    from .model import RuntimeModel

    model = RuntimeModel(open_bundle(path), backend=backend, **options)  # raw graphs only: any family validates
    bundle = model.bundle
    tolerances = bundle.tolerances
    profile = profile_name(backend, bundle.manifest.precision)
    cases = []
    for case in bundle.golden:
        graph = bundle.graph(case.graph)
        feeds, expected = bundle.golden_arrays(case)
        t0 = time.perf_counter()
        got = model.run(feeds, role=case.graph)
        dt = time.perf_counter() - t0
        outs = []
        for name, exp in expected.items():
            tol = tolerances.for_output(name, case.tolerance, profile)
            m = compare(got[name], exp, _output_range(graph, name))
            failed = check(m, tol)
            outs.append({"output": name, "shape": list(exp.shape), **m,
                         "tolerance": {k: v for k, v in asdict(tol).items() if v is not None},
                         "failed": failed, "passed": not failed})
        cases.append({"case": case.name, "graph": case.graph, "reference": case.reference, "seconds": dt,
                      "inputs": {k: list(v.shape) for k, v in feeds.items()}, "outputs": outs,
                      "passed": all(o["passed"] for o in outs)})
    backend_name = getattr(model.session(bundle.golden[0].graph) if bundle.golden else None, "providers", backend)
    report = {
        "bundle": str(path),
        "model": bundle.name,
        "family": bundle.interface,
        "method": bundle.method,
        "backend": backend,
        "tolerance_profile": profile,
        "tolerance_basis": tolerances.profile(profile).basis,
        "providers": backend_name if isinstance(backend_name, list) else [backend],
        "cases": cases,
        "passed": bool(cases) and all(c["passed"] for c in cases),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if not cases:
        report["error"] = "bundle has no golden cases"
    if write_report:
        rel = f"validation-{backend}.json"
        data = (json.dumps(report, indent=2) + "\n").encode()

        def patch(m):
            m.validation[backend] = ValidationRecord(report=rel, passed=report["passed"], time=report["time"])

        update_bundle(path, add_files={rel: data}, patch=patch)
    return report


def format_report(report: dict) -> str:
    """A fixed-width table of the report, one row per (case, output)."""
    from .tables import render_text, validation_table

    return render_text(validation_table(report))
