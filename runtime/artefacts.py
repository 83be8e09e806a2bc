"""Where StyleForge may write: it replaces only an artefact it made itself, of the kind it is writing, and never
an input of the same command (docs/safety.md).

Kinds and how each is recognised (torch-free, reading at most one small JSON file):

* ``bundle``: a directory whose ``manifest.json`` is a StyleForge manifest (a JSON object with an integer
  ``schema_version``, a ``model`` object and a ``graphs`` list); a web app's ``manifest.json`` is not one;
* ``checkpoint``: a directory holding ``config.json`` and ``model.safetensors`` (train/core/checkpoint.py);
* ``triton-model``: a Triton model directory carrying the marker :data:`MARKER` that `styleforge triton` writes
  into every model it makes (a model written by hand, or by StyleForge before the marker existed, is refused).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import StyleForgeError

#: the file `styleforge triton` leaves in each model directory it writes (Triton ignores hidden files)
MARKER = ".styleforge-artefact.json"
KINDS = {"bundle": "bundle (a folder with a StyleForge manifest.json)",
         "checkpoint": "checkpoint (config.json + model.safetensors)",
         "triton-model": f"Triton model written by `styleforge triton` (it carries {MARKER})"}
_MAX_JSON = 64 << 20  # a manifest larger than this is not one StyleForge wrote


def _json_object(path: Path) -> dict | None:
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > _MAX_JSON:
            return None
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_bundle(path: str | os.PathLike) -> bool:
    data = _json_object(Path(path) / "manifest.json")
    return (data is not None and isinstance(data.get("schema_version"), int) and isinstance(data.get("model"), dict)
            and isinstance(data.get("graphs"), list))


def artefact_kind(path: str | os.PathLike) -> str | None:
    """The kind of StyleForge artefact at `path` (a real directory, not a link), or None."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return None
    if is_bundle(path):
        return "bundle"
    if (path / "config.json").is_file() and (path / "model.safetensors").is_file():
        return "checkpoint"
    marker = _json_object(path / MARKER)
    if marker is not None and marker.get("kind") in KINDS:
        return marker["kind"]
    return None


def write_marker(folder: str | os.PathLike, kind: str) -> None:
    """Mark a folder StyleForge wrote as an artefact of `kind` (for kinds without a file of their own that says so)."""
    if kind not in KINDS:
        raise ValueError(f"unknown artefact kind {kind!r}")
    (Path(folder) / MARKER).write_text(json.dumps({"kind": kind, "written_by": "styleforge"}) + "\n", "utf-8")


def check_replaceable(path: str | os.PathLike, kind: str | None, flag: str = "--out") -> None:
    """Refuse, in one line naming it, an existing `path` that is not a StyleForge artefact of `kind` (None: nothing
    existing may be replaced). A missing path is fine."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if kind is not None and artefact_kind(path) == kind:
        return
    what = "a link" if path.is_symlink() else "a file" if not path.is_dir() else "a folder"
    want = f"a StyleForge {KINDS[kind]}" if kind else "something StyleForge may replace"
    raise StyleForgeError(f"{flag} {path}: {what} that is not {want}; refusing to replace it (StyleForge replaces only "
                          "what it made: remove it yourself or choose another path)")


def _real(p: str | os.PathLike) -> str:
    return os.path.realpath(os.path.abspath(p))


def check_not_input(out: str | os.PathLike, inputs, flag: str = "--out", *, nested: bool = True) -> None:
    """Refuse an output that is one of the command's `inputs`, or (`nested`, for folders that are replaced whole) lies
    inside one or holds one. Links are followed; inputs that do not exist are ignored."""
    o = _real(out)
    for inp in inputs:
        if inp is None or str(inp).startswith("sample:") or not os.path.exists(inp):
            continue
        i = _real(inp)
        if o == i:
            raise StyleForgeError(f"{flag} {out} is the input {inp}; write the result elsewhere")
        if not nested:
            continue
        if os.path.commonpath([o, i]) == i:
            raise StyleForgeError(f"{flag} {out} lies inside the input {inp}; write the result elsewhere")
        if os.path.commonpath([o, i]) == o:
            raise StyleForgeError(f"{flag} {out} holds the input {inp} (replacing it would delete the input); "
                                  "write the result elsewhere")


def check_output(out: str | os.PathLike, kind: str | None, inputs=(), flag: str = "--out") -> None:
    """Both checks, before any work: `out` is no input, and what is there (if anything) is a `kind` artefact."""
    check_not_input(out, inputs, flag)
    check_replaceable(out, kind, flag)
