"""The ``lineage`` record of a converted or imported bundle (runtime/manifest.py :class:`Lineage`)."""
from __future__ import annotations

from pathlib import Path

from ...runtime.bundle import sha256_file
from ...runtime.manifest import MANIFEST, Conversion, Lineage, LineageParent, SourceModel

#: packages whose versions a conversion records
TOOLS = ("styleforge", "onnx", "onnxruntime", "onnxslim", "numpy", "torch")


def tool_versions() -> dict[str, str]:
    import importlib.metadata as md
    import platform

    out = {"python": platform.python_version()}
    for pkg in TOOLS:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def parent_record(bundle) -> LineageParent:
    """The parent of a conversion: its model name, the sha256 of its manifest.json, its precision and path."""
    return LineageParent(name=bundle.name, manifest_sha256=sha256_file(Path(bundle.path) / MANIFEST),
                         precision=bundle.manifest.precision, path=str(Path(bundle.path).resolve()))


def conversion_lineage(parent, precision: str, io: str, options: dict, passes: dict, calibration) -> Lineage:
    return Lineage(precision=precision, parent=parent_record(parent), io=io,
                   conversion=Conversion(tool="styleforge convert", versions=tool_versions(), options=dict(options),
                                         passes={k: list(v) for k, v in passes.items()}, calibration=list(calibration)))


def import_lineage(source: Path, options: dict, passes: dict, precision: str = "fp32") -> Lineage:
    return Lineage(precision=precision, source_model=SourceModel(file=source.name, sha256=sha256_file(source)),
                   conversion=Conversion(tool="styleforge import-onnx", versions=tool_versions(), options=dict(options),
                                         passes={k: list(v) for k, v in passes.items()}))
