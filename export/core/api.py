"""Python API of export: ``export_checkpoint(ckpt, out)`` reads the checkpoint's own config (no
flags repeated) and hands it to its family's exporter (found by export/core/family.py)."""
from __future__ import annotations

from pathlib import Path

from ...runtime.images import parse_sizes
from .family import find_exporter


def export_checkpoint(checkpoint: str | Path, out: str | Path, **options) -> Path:
    """Export the checkpoint (or run folder) at `checkpoint` to the bundle directory `out`."""
    exporter, _family, ckpt = find_exporter(checkpoint)
    if isinstance(options.get("golden_sizes"), str):
        options["golden_sizes"] = parse_sizes(options["golden_sizes"], flag="--golden-sizes", min_side=1, square=False)
    return Path(exporter(ckpt, Path(out), **options))
