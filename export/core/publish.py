"""Put a new bundle at --out the one safe way, for every command that writes one (export, convert, import-onnx):
check --out before any work (not an input, and nothing there that StyleForge did not make), build the bundle in a
staging folder beside --out, validate it there, and only then replace --out atomically (runtime/atomic.py).
A failing bundle never reaches --out; with ``force`` it is kept as NAME.failed.sfbundle (:func:`failed_name`)."""
from __future__ import annotations

from pathlib import Path

from ...runtime.artefacts import check_output
from ...runtime.errors import StyleForgeError


def failed_name(out: Path) -> Path:
    """Where ``--force`` keeps a bundle that failed validation: ``x.sfbundle`` → ``x.failed.sfbundle``."""
    out = Path(out)
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


def check_bundle_output(out, inputs=()) -> Path:
    """Refuse, before any work, an `out` that is one of `inputs` (or inside one, or holding one), or an existing
    path that is not a StyleForge bundle (runtime/artefacts.py). Returns `out` as a Path."""
    check_output(out, "bundle", inputs)
    return Path(out)


def publish_bundle(build, out, *, inputs=(), validate: bool = True, backend: str = "ort-cpu",
                   force: bool = False) -> tuple[Path, dict | None]:
    """``build(path)`` writes the new bundle at `path` (in a staging folder beside `out`); it is validated on
    `backend` there (without `validate`: only opened with every sha256 checked), its report recorded in it, and
    only then does it replace `out`. Returns (out, report or None); raises :class:`ExportValidationError` when
    validation fails, StyleForgeError when the disk refuses a write (`out` unchanged either way)."""
    out = check_bundle_output(out, inputs)
    try:
        return _stage_and_publish(build, out, inputs, validate, backend, force)
    except OSError as e:  # a full disk, a read-only folder …: the staging folder is gone, `out` as it was
        raise StyleForgeError(f"{out}: could not write the new bundle ({e.strerror or e}"
                              f"{': ' + str(e.filename) if e.filename else ''}); "
                              f"{'the bundle there is unchanged' if out.exists() else 'nothing was written'}") from None


def _stage_and_publish(build, out: Path, inputs, validate: bool, backend: str, force: bool):
    from ...runtime.atomic import replace_dir, staging_dir
    from ...runtime.bundle import open_bundle
    from ...runtime.validation import record_report, validate_bundle

    with staging_dir(out) as stage:
        staged = Path(build(stage / out.name) or stage / out.name)
        report = None
        if validate:
            report = validate_bundle(staged, backend=backend)
            kept = failed_name(out) if force and not report["passed"] else None
            report["bundle"] = str(kept or out)  # where the bundle that carries this report will be
            record_report(staged, report)
            if not report["passed"]:
                if kept is not None:
                    check_output(kept, "bundle", inputs, flag="--force keeps it as")
                    replace_dir(staged, kept, kind="bundle")
                raise ExportValidationError(report, out, kept)
        else:
            open_bundle(staged)  # complete, and every file matches its sha256
        check_output(out, "bundle", inputs)  # again: something may have appeared at `out` meanwhile
        replace_dir(staged, out, kind="bundle")
    return out, report
