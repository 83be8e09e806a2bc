"""Python API of export: ``export_checkpoint(ckpt, out)`` reads the checkpoint's own config (no
flags repeated) and hands it to its family's exporter (found by export/core/family.py);
``export_validated`` also validates the new bundle before it may replace anything at `out`."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ...runtime.errors import StyleForgeError
from ...runtime.images import parse_sizes
from .family import find_exporter


def export_checkpoint(checkpoint: str | Path, out: str | Path, **options) -> Path:
    """Export the checkpoint (or run folder) at `checkpoint` to the bundle directory `out` (not validated).

    ``exporter="dynamo"`` exports through torch.export instead of the TorchScript tracer (onnx_export.py)."""
    from .onnx_export import use_exporter

    export, _method, ckpt = find_exporter(checkpoint)
    if isinstance(options.get("golden_sizes"), str):
        options["golden_sizes"] = parse_sizes(options["golden_sizes"], flag="--golden-sizes", min_side=1, square=False)
    with use_exporter(options.pop("exporter", None) or "torchscript"):
        return Path(export(ckpt, Path(out), **options))


def failed_name(out: Path) -> Path:
    """Where ``--force`` keeps a bundle that failed validation: ``x.sfbundle`` → ``x.failed.sfbundle``."""
    return out.with_name(f"{out.stem}.failed{out.suffix or '.sfbundle'}")


class ExportValidationError(StyleForgeError):
    """The new bundle failed validation; `out` was left as it was. ``report``: the validation report;
    ``kept``: where ``force`` kept the failing bundle (or None)."""

    def __init__(self, report: dict, out: Path, kept: Path | None):
        self.report, self.out, self.kept = report, out, kept
        bad = [f"{c['case']}/{o['output']} ({', '.join(o['failed'])})" for c in report["cases"]
               for o in c.get("outputs", []) if not o["passed"]]
        bad += [f"{c['case']} ({c['error']})" for c in report["cases"] if c.get("error")]
        bad += [report["error"]] if report.get("error") else []
        where = f"kept it as {kept}" if kept else f"wrote nothing (--force keeps it as {failed_name(out)})"
        old = f"; {out} is unchanged" if out.exists() else ""
        super().__init__(f"{out}: the new bundle failed validation on {report['backend']}: {'; '.join(bad[:3])}"
                         f"{' …' if len(bad) > 3 else ''}; {where}{old}")


def export_validated(checkpoint: str | Path, out: str | Path, *, backend: str = "ort-cpu", force: bool = False,
                     **options) -> tuple[Path, dict]:
    """Export, validate the new bundle in a staging folder beside `out`, and only if it passes put it at `out`
    (an atomic replace: the bundle there before stays intact until then). Returns (out, report).

    On failure nothing at `out` changes and :class:`ExportValidationError` is raised; with `force` the failing
    bundle is kept under its own name (:func:`failed_name`), never at `out`."""
    from ...runtime.atomic import replace_dir
    from ...runtime.validation import record_report, validate_bundle

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".staging", dir=out.parent))
    try:
        staged = export_checkpoint(checkpoint, stage / out.name, **options)
        report = validate_bundle(staged, backend=backend)
        kept = failed_name(out) if force and not report["passed"] else None
        report["bundle"] = str(kept or out)   # where the bundle that carries this report will be
        record_report(staged, report)
        if report["passed"]:
            replace_dir(staged, out)
            return out, report
        if kept is not None:
            replace_dir(staged, kept)
        raise ExportValidationError(report, out, kept)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
