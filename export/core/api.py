"""Python API of export: ``export_checkpoint(ckpt, out)`` reads the checkpoint's own config (no
flags repeated) and hands it to its family's exporter (found by export/core/family.py)."""
from __future__ import annotations

from pathlib import Path

from ...runtime.errors import StyleForgeError
from .family import find_exporter


def parse_sizes(text: str | None) -> list[tuple[int, int]] | None:
    """'64x64,70x90' → [(64, 64), (70, 90)]."""
    if not text:
        return None
    out = []
    for item in text.split(","):
        try:
            h, w = item.lower().split("x")
            out.append((int(h), int(w)))
        except ValueError:
            raise StyleForgeError(f"bad size {item!r} in --golden-sizes; expected HxW like 64x80") from None
    return out


def export_checkpoint(checkpoint: str | Path, out: str | Path, **options) -> Path:
    """Export the checkpoint (or run folder) at `checkpoint` to the bundle directory `out`."""
    exporter, _family, ckpt = find_exporter(checkpoint)
    if isinstance(options.get("golden_sizes"), str) or options.get("golden_sizes") is None:
        options["golden_sizes"] = parse_sizes(options.get("golden_sizes"))
    return Path(exporter(ckpt, Path(out), **options))
