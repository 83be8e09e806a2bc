"""Validation: a comparator over runners. ``validate_bundle(bundle, backend="A")`` runs every golden case
on runner A and compares with the reference outputs stored at export (golden ↔ backend);
``against="B"`` compares A with runner B on the same golden inputs instead (backend ↔ backend).

Limits come from the bundle's tolerance profile for the way it runs (:func:`profile_name`: ``cpu-fp32`` on
ONNX Runtime CPU, ``gpu-tf32`` on GPU runners, ``fp16``/``int8`` for those bundles; backend ↔ backend uses
the looser of the two). A case whose graph a runner cannot run (e.g. a TensorRT plugin graph on ONNX
Runtime) is reported as skipped with the runner's reason; validation passes only if at least one case ran
and every case that ran passed. Nothing is written into the bundle unless ``record=True`` (so a read-only
bundle validates); with it the report goes into the bundle and its manifest's ``validation`` map.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict

import numpy as np

from .bundle import open_bundle, update_bundle
from .backends.base import RunResult
from .errors import StyleForgeError
from .io_plan import fixed_feeds
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


class RunnerSet:
    """One runner per graph role for a backend name, opened on first use through the one selection function
    (:func:`~styleforge.runtime.backends.select_runner`); a role it cannot run is remembered with the reason (so
    its cases are skipped, not failed)."""

    def __init__(self, bundle, backend: str, options: dict):
        self.bundle, self.backend, self.options = bundle, backend, options
        self.runners: dict = {}
        self.unsupported: dict[str, str] = {}

    def get(self, role: str):
        """The runner for `role`, or None (reason in ``unsupported[role]``)."""
        from .backends import open_session, select_runner

        if role in self.runners or role in self.unsupported:
            return self.runners.get(role)
        sel = select_runner(self.backend, self.bundle, role, options=self.options)
        if not sel.ok:
            self.unsupported[role] = sel.skipped.get(self.backend) or sel.why_not()
            return None
        try:
            self.runners[role] = open_session(self.bundle, role, self.backend, selection=sel, **self.options)
        except StyleForgeError as e:
            if self.backend != "auto":
                raise
            self.unsupported[role] = str(e)
            return None
        return self.runners[role]

    def name(self, role: str) -> str:
        r = self.runners.get(role)
        return r.name if r is not None else self.backend

    def notes(self) -> dict:
        """``{role: runner notes}`` for the runners that have something to say (e.g. nodes placed on the CPU)."""
        return {role: n for role, r in self.runners.items() if (n := r.notes())}

    def close(self) -> None:
        for r in self.runners.values():
            r.deactivate()


def _fp16_note(bundle, runner, role: str, feeds: dict, notes: dict) -> str:
    """For an fp16 bundle on ONNX Runtime CPU: which fp16 ops it ran in fp32 (no CPU kernel), once per graph."""
    if bundle.manifest.precision != "fp16" or runner.name != "ort-cpu":
        return ""
    if role not in notes:
        from .backends.ort import cpu_fp16_fallbacks

        lineage = bundle.manifest.lineage
        intended = (lineage.conversion.options.get("fp16_ops", {}) or {}).get(role) if lineage is not None else None
        ops = cpu_fp16_fallbacks(bundle.file(bundle.graph(role).file), feeds, intended)
        notes[role] = (f"ONNX Runtime CPU has no fp16 kernel for {', '.join(ops)} here: it ran them in fp32 (inserted "
                       "Casts), so this case checks the fp16 weights and casts, not fp16 arithmetic of those ops "
                       "(GPU runners compute them in fp16)") if ops else ""
    return notes[role]


def _profile(bundle, runners: list) -> str:
    """The tolerance profile for outputs of these runners (or runner names): the loosest of theirs (cpu-fp32 only
    if all are); a runner computing in bf16 (``precision_used``, OpenVINO's effective hint) gets the bf16 profile."""
    profiles = [profile_name(r, bundle.manifest.precision) if isinstance(r, str) else
                profile_name(r.name, bundle.manifest.precision, getattr(r, "precision_used", None)) for r in runners]
    return next((p for p in profiles if p != "cpu-fp32"), "cpu-fp32")


def _skipped_case(case, why: str) -> dict:
    return {"case": case.name, "graph": case.graph, "reference": case.reference, "skipped": why, "outputs": [],
            "passed": None}


def _compare_outputs(bundle, case, graph, got: RunResult, expected: dict, reference: RunResult | None,
                     profile: str) -> list[dict]:
    """Per output: metrics against the expected arrays and the tolerance of `profile` (the one these runners get)."""
    outs = []
    for name, exp in expected.items():
        tol = bundle.tolerances.for_output(name, None if reference is not None else case.tolerance, profile)
        m = compare(got.outputs[name], exp, _output_range(graph, name))
        failed = check(m, tol)
        outs.append({"output": name, "shape": list(exp.shape), **m,
                     "tolerance": {k: v for k, v in asdict(tol).items() if v is not None},
                     "tolerance_profile": profile, "failed": failed, "passed": not failed})
    return outs


def validate_case(bundle, case, run_a: RunnerSet, run_b: RunnerSet | None, fp16_notes: dict) -> dict:
    """One golden case on runner set A, compared with the stored outputs or with runner set B."""
    graph = bundle.graph(case.graph)
    a = run_a.get(case.graph)
    b = run_b.get(case.graph) if run_b is not None and a is not None else None
    if a is None or (run_b is not None and b is None):
        return _skipped_case(case, run_a.unsupported.get(case.graph) or (run_b.unsupported.get(case.graph) if run_b else ""))
    feeds, expected = bundle.golden_arrays(case)
    feeds = {**fixed_feeds(bundle, graph), **feeds}  # inputs held fixed (import-onnx --const)
    note = _fp16_note(bundle, a, case.graph, feeds, fp16_notes)
    shapes = {k: list(v.shape) for k, v in feeds.items()}
    try:
        got = a.infer(feeds)
        ref = b.infer(feeds) if b is not None else None
    except StyleForgeError as e:  # the graph refused its own golden inputs: a failed case, not a crash
        return {"case": case.name, "graph": case.graph, "reference": case.reference, "runner": a.name,
                "inputs": shapes, "outputs": [], "error": str(e), "passed": False}
    if ref is not None:
        expected = {k: v for k, v in ref.outputs.items() if k in expected}
    outs = _compare_outputs(bundle, case, graph, got, expected, ref, _profile(bundle, [a] + ([b] if b is not None else [])))
    return {"case": case.name, "graph": case.graph, **({"note": note} if note else {}),
            "reference": ref.runner if ref is not None else case.reference, "runner": got.runner,
            "seconds": got.seconds, "inputs": shapes, "outputs": outs, "passed": all(o["passed"] for o in outs)}


def _report(path, bundle, backend: str, against, run_a: RunnerSet, run_b, cases: list, fp16_notes: dict) -> dict:
    ran = [c for c in cases if c["passed"] is not None]
    used = [r for r in run_a.runners.values() if any(c.get("runner") == r.name for c in ran)] or [backend]
    profile = _profile(bundle, used + (list(run_b.runners.values()) if run_b is not None else []))
    notes = {**(run_b.notes() if run_b is not None else {}), **run_a.notes()}
    report = {
        "bundle": str(path),
        "model": bundle.name,
        "interface": bundle.interface, "family": bundle.manifest.model.family,
        "method": bundle.method,
        "backend": backend,
        "runners": {role: r.selection.to_dict() if r.selection else {"chosen": r.name} for role, r in run_a.runners.items()},
        "against": against,
        "tolerance_profile": profile,
        "tolerance_basis": bundle.tolerances.profile(profile).basis,
        "providers": sorted({p for r in run_a.runners.values() for p in r.providers}) or [backend],
        **({"runner_notes": notes} if notes else {}),
        "cases": cases,
        "skipped": len(cases) - len(ran),
        **({"fp16_fallbacks": fp16_notes} if any(fp16_notes.values()) else {}),
        "passed": bool(ran) and all(c["passed"] for c in ran),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if not cases:
        report["error"] = "bundle has no golden cases"
    elif not ran:
        why = {**run_a.unsupported, **(run_b.unsupported if run_b else {})}
        report["error"] = "no case could run: " + "; ".join(f"{k}: {v}" for k, v in why.items())
    return report


def validate_bundle(path, backend: str = "ort-cpu", *, against: str | None = None, record: bool = False,
                    write_report: bool | None = None, **options) -> dict:
    """Run every golden case on runner `backend` and compare with the stored reference outputs, or with
    runner `against` on the same inputs; returns the report (``report["passed"]``). `options` go to the
    runners (``threads=N`` …). ``record=True`` stores the report in the bundle (``write_report`` is its 0.1 name).
    Notes the runners make (``ort-cuda``'s nodes placed on the CPU) are in ``report["runner_notes"]``."""
    if write_report is not None:
        record = bool(write_report)
    bundle = open_bundle(path)
    run_a = RunnerSet(bundle, backend, options)
    run_b = RunnerSet(bundle, against, options) if against else None
    fp16_notes: dict[str, str] = {}
    try:
        cases = [validate_case(bundle, case, run_a, run_b, fp16_notes) for case in bundle.golden]
    finally:
        run_a.close()
        if run_b is not None:
            run_b.close()
    report = _report(path, bundle, backend, against, run_a, run_b, cases, fp16_notes)
    if record:
        record_report(path, report)
    return report


def record_report(path, report: dict) -> None:
    """Store a validation report in the bundle at `path` (``validation-KEY.json`` + the manifest's ``validation``
    map, KEY = the backend, or ``A-vs-B``)."""
    key = report["backend"] if not report.get("against") else f"{report['backend']}-vs-{report['against']}"
    rel = f"validation-{key}.json"
    data = (json.dumps(report, indent=2) + "\n").encode()

    def patch(m):
        m.validation[key] = ValidationRecord(report=rel, passed=report["passed"], time=report["time"])

    update_bundle(path, add_files={rel: data}, patch=patch)


def format_report(report: dict) -> str:
    """A fixed-width table of the report, one row per (case, output)."""
    from .tables import render_text, validation_table

    return render_text(validation_table(report))
