"""Python API of export: ``export_checkpoint(ckpt, out)`` reads the checkpoint's own config (no
flags repeated) and hands it to its family's exporter."""
from __future__ import annotations

from pathlib import Path

from ..runtime.errors import StyleForgeError
from .registry import get_exporter


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
    from ..train.checkpoint import detect_family

    family, ckpt = detect_family(checkpoint)
    if isinstance(options.get("golden_sizes"), str) or options.get("golden_sizes") is None:
        options["golden_sizes"] = parse_sizes(options.get("golden_sizes"))
    return Path(get_exporter(family)(ckpt, Path(out), **options))
