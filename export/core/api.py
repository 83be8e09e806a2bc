"""Python API of export: ``export_checkpoint(ckpt, out)`` reads the checkpoint's own config (no
flags repeated) and hands it to its family's exporter (found by export/core/family.py);
``export_validated`` also validates the new bundle before it may replace anything at `out`."""
from __future__ import annotations

from pathlib import Path

from ...runtime.images import parse_sizes
from .family import find_exporter
from .publish import ExportValidationError, check_bundle_output, failed_name, publish_bundle

__all__ = ["export_checkpoint", "export_validated", "ExportValidationError", "failed_name"]


def export_checkpoint(checkpoint: str | Path, out: str | Path, **options) -> Path:
    """Export the checkpoint (or run folder) at `checkpoint` to the bundle directory `out` (not validated).

    ``exporter="dynamo"`` exports through torch.export instead of the TorchScript tracer (onnx_export.py)."""
    from .onnx_export import use_exporter

    check_bundle_output(out, [checkpoint])
    export, _method, ckpt = find_exporter(checkpoint)
    if isinstance(options.get("golden_sizes"), str):
        options["golden_sizes"] = parse_sizes(options["golden_sizes"], flag="--golden-sizes", min_side=1, square=False)
    with use_exporter(options.pop("exporter", None) or "torchscript"):
        return Path(export(ckpt, Path(out), **options))


def export_validated(checkpoint: str | Path, out: str | Path, *, backend: str = "ort-cpu", force: bool = False,
                     validate: bool = True, **options) -> tuple[Path, dict | None]:
    """Export into a staging folder beside `out`, validate the new bundle there, and only if it passes put it at
    `out` (export/core/publish.py: an atomic replace of a bundle, never of anything else or of the checkpoint).
    Returns (out, report; None without `validate`).

    On failure nothing at `out` changes and :class:`ExportValidationError` is raised; with `force` the failing
    bundle is kept under its own name (:func:`failed_name`), never at `out`."""
    return publish_bundle(lambda staged: export_checkpoint(checkpoint, staged, **options), out, inputs=[checkpoint],
                          validate=validate, backend=backend, force=force)
