"""Read an ONNX model file StyleForge did not write (import-onnx) without following its ``external_data`` out of
its folder: every location is checked (relative, no '..', no link leading out) before onnx reads any of it. This
is StyleForge's own check, whatever onnx's version does (onnx < 1.16 followed '../' paths: CVE-2024-27318)."""
from __future__ import annotations

import os
from pathlib import Path

from ...runtime.errors import StyleForgeError


def confined_locations(path: Path, data: bytes) -> list[str]:
    """The model's external data locations, each checked to stay inside the model file's folder."""
    from ...runtime.onnx_refs import external_data_locations

    from ...runtime.errors import BundleError

    folder = os.path.realpath(path.parent)
    try:
        locations = external_data_locations(data)
    except BundleError as e:
        raise StyleForgeError(f"{path}: not a valid ONNX model ({str(e).removeprefix('not a readable ONNX model ')})") from None
    for loc in locations:
        parts = loc.replace("\\", "/").split("/")
        if not loc or os.path.isabs(loc) or loc.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts \
                or "\0" in loc:
            raise StyleForgeError(f"{path}: tensor data at {loc!r} lies outside the model's folder; refusing to read it")
        target = os.path.realpath(os.path.join(folder, *parts))
        if os.path.commonpath([folder, target]) != folder:
            raise StyleForgeError(f"{path}: tensor data at {loc!r} leads outside the model's folder (a link?); "
                                  "refusing to read it")
    return locations


def load_onnx_confined(path: str | os.PathLike):
    """``onnx.load(path)``, with the external data locations checked first (:func:`confined_locations`)."""
    import onnx
    from onnx.external_data_helper import load_external_data_for_model

    path = Path(path)
    data = path.read_bytes()
    locations = confined_locations(path, data)
    model = onnx.load_from_string(data)  # reads no external file
    if locations:
        load_external_data_for_model(model, str(path.parent))
    return model
