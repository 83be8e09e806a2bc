"""Write a bundle directory (manifest + graphs + golden I/O), atomically, with sha256 of every file.

Exporters of every family build a :class:`BundleWriter`, add graphs and golden cases, and
call :meth:`BundleWriter.write`. The runtime reads the result with ``styleforge.runtime.open_bundle``.
"""
from __future__ import annotations

import hashlib
import io
import json
import platform
from pathlib import Path

import numpy as np

from ..runtime.atomic import atomic_dir
from ..runtime.bundle import MANIFEST, SCHEMA_VERSION
from .onnx_export import DEFAULT_OPSET, graph_io

#: Default tolerances for fp32 graphs whose outputs are images in [0, 255].
FP32_IMAGE_TOLERANCES = {"max_abs": 0.5, "mean_abs": 0.02, "p99_abs": 0.1, "min_cosine": 0.99999, "min_psnr": 60.0}


def producer_versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("styleforge", "torch", "onnx", "onnxruntime", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


class BundleWriter:
    """Collects the parts of a bundle in memory, then writes them in one atomic rename."""

    def __init__(self, *, name: str, family: str, config: dict, loss_network: str | None = None,
                 precision: str = "fp32", opset: int = DEFAULT_OPSET):
        self.manifest: dict = {
            "schema_version": SCHEMA_VERSION,
            "model": {"name": name, "family": family, "config": config},
            "loss_network": loss_network,
            "graphs": [],
            "golden": [],
            "size_constraints": {"multiple_of": 1, "min_side": 1},
            "precision": precision,
            "opset": opset,
            "producer": producer_versions(),
            "tolerances": dict(FP32_IMAGE_TOLERANCES),
            "engines": [],
            "files": {},
        }
        self.files: dict[str, bytes] = {}

    def add_file(self, rel: str, data: bytes) -> None:
        if rel in self.files:
            raise ValueError(f"bundle file {rel} added twice")
        self.files[rel] = data

    def add_graph(self, role: str, onnx_bytes: bytes, *, annotations: dict[str, dict] | None = None,
                  file: str | None = None) -> dict:
        """Add an ONNX graph under `role`. `annotations` adds per-tensor fields
        (``layout``, ``range``, ``color_order``, ``description``) to the I/O entries read from the graph."""
        file = file or f"{role}.onnx"
        inputs, outputs = graph_io(onnx_bytes)
        for entry in inputs + outputs:
            entry.update((annotations or {}).get(entry["name"], {}))
        graph = {"role": role, "file": file, "inputs": inputs, "outputs": outputs, "opset": self.manifest["opset"]}
        self.add_file(file, onnx_bytes)
        self.manifest["graphs"].append(graph)
        return graph

    def add_golden(self, name: str, role: str, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray],
                   description: str = "") -> None:
        """Store a golden case: inputs and the PyTorch outputs the backends must reproduce."""
        arrays = {f"input.{k}": np.asarray(v) for k, v in inputs.items()}
        arrays.update({f"output.{k}": np.asarray(v) for k, v in outputs.items()})
        file = f"golden/{name}.npz"
        self.add_file(file, npz_bytes(arrays))
        self.manifest["golden"].append({"name": name, "file": file, "graph": role, "inputs": list(inputs),
                                        "outputs": list(outputs), "description": description,
                                        "shapes": {k: list(np.shape(v)) for k, v in {**inputs, **outputs}.items()}})

    def set(self, **fields) -> None:
        """Set or replace top-level manifest fields (``size_constraints``, ``tolerances``, …)."""
        self.manifest.update(fields)

    def write(self, path: str | Path) -> Path:
        """Write everything under a temporary name beside `path` and rename it into place."""
        path = Path(path)
        self.manifest["files"] = {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(self.files.items())}
        with atomic_dir(path) as tmp:
            for rel, data in self.files.items():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(data)
            (tmp / MANIFEST).write_text(json.dumps(self.manifest, indent=2) + "\n", "utf-8")
        return path
