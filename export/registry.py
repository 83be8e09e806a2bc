"""Exporters by model family: ``export_checkpoint(ckpt, out)`` picks one from the checkpoint's config."""
from __future__ import annotations

from importlib import import_module

from ..runtime.errors import unknown_name

#: family -> "module:function"; the function takes (checkpoint_dir, out_path, **options) -> Path.
EXPORTERS = {
    "pix2pix": "styleforge.export.translator:export_translator",
    "cyclegan": "styleforge.export.translator:export_translator",
    "generator": "styleforge.export.generator:export_generator",
    "stylizer": "styleforge.export.stylizer:export_stylizer",
    "wct": "styleforge.export.wct:export_wct",
}


def get_exporter(family: str):
    if family not in EXPORTERS:
        raise unknown_name("model family to export", family, EXPORTERS)
    mod, fn = EXPORTERS[family].split(":")
    return getattr(import_module(mod), fn)
