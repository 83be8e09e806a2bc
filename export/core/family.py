"""How an exporter declares itself: ``EXPORTER = ExportFamily(...)`` in ``export/<family>/__init__.py``,
found by a package scan (:func:`export_families`). ``styleforge export PATH`` asks each declared
``detect`` hook first (inputs that are not one checkpoint, e.g. a WCT folder of level runs), then
matches the checkpoint config's ``family`` (the training package, ``train/<family>``) with the exporter's
``name`` (``export/<family>``) and its ``method`` with the exporter's ``methods``. Old checkpoints are read in
today's words (train/core/checkpoint.py, ``upgrade_config``), so they match the same way."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...runtime.discovery import collect, resolve
from ...runtime.errors import unknown_name


@dataclass
class TorchGraph:
    """A bundle graph's PyTorch side: the module that was exported and its input/output names, in the graph's
    order (``module(*inputs) -> output or tuple of outputs``)."""

    module: object
    inputs: list[str]
    outputs: list[str]


@dataclass(frozen=True)
class ExportFamily:
    name: str                              # the family it exports: a checkpoint config's "family"
    methods: tuple[str, ...]               # the methods of that family it exports: a checkpoint config's "method"
    exporter: str                          # "module:function": (checkpoint, out, **options) -> Path
    detect: str | None = None              # "module:function": Path -> bool, for folders that are not one checkpoint
    #: "module:function": (checkpoint or folder) -> {role: TorchGraph}, the PyTorch modules behind each graph
    #: (export/core/torch_runner.py runs them: the torch-eager / torch-cuda reference of a bundle)
    torch_graphs: str | None = None
    package: str = field(default="", compare=False)

    def resolve(self, spec: str):
        return resolve(spec, self.package)


def export_families() -> dict[str, ExportFamily]:
    out = {}
    for name, fam in collect("styleforge.export", "EXPORTER").items():
        object.__setattr__(fam, "package", f"styleforge.export.{name}")
        out[name] = fam
    return out


def find_family(path: str | Path) -> tuple[ExportFamily, str, Path]:
    """(export family, checkpoint method, path to hand it) for a checkpoint, run folder or detected folder."""
    from ...train.core.checkpoint import read_config, resolve_checkpoint

    families = export_families()
    for fam in families.values():
        if fam.detect and fam.resolve(fam.detect)(Path(path)):
            return fam, fam.methods[0], Path(path)
    ckpt = resolve_checkpoint(path)
    config = read_config(ckpt)
    fam = families.get(config["family"])
    if fam is None:
        raise unknown_name("model family to export", config["family"], list(families))
    if config["method"] not in fam.methods:
        raise unknown_name(f"{fam.name} method to export", config["method"], list(fam.methods))
    return fam, config["method"], ckpt


def find_exporter(path: str | Path):
    """(exporter function, checkpoint method, path to hand it) for a checkpoint, run folder or detected folder."""
    fam, method, source = find_family(path)
    return fam.resolve(fam.exporter), method, source
