"""Read a bundle (the export→runtime contract, docs/overview.md §Bundle): parse manifest.json,
check every file against its sha256, and hand out graphs, golden cases and tolerances."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import BundleError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
#: Fields every manifest must carry (validated at load so a broken bundle fails early and clearly).
REQUIRED_FIELDS = ("schema_version", "model", "graphs", "files", "tolerances", "precision", "opset", "producer")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass
class Bundle:
    """A loaded, hash-checked bundle directory."""

    path: Path
    manifest: dict
    _golden_cache: dict = field(default_factory=dict, repr=False)

    @property
    def family(self) -> str:
        return self.manifest["model"]["family"]

    @property
    def name(self) -> str:
        return self.manifest["model"]["name"]

    @property
    def graphs(self) -> dict[str, dict]:
        """Graph entries keyed by role (``stylize``, ``generate``, ``encode_style``, …)."""
        return {g["role"]: g for g in self.manifest["graphs"]}

    def graph(self, role: str) -> dict:
        graphs = self.graphs
        if role not in graphs:
            raise BundleError(f"{self.path}: bundle has no graph with role {role!r} (it has: {', '.join(graphs)})")
        return graphs[role]

    def file(self, rel: str) -> Path:
        return self.path / rel

    @property
    def tolerances(self) -> dict:
        return self.manifest["tolerances"]

    @property
    def golden(self) -> list[dict]:
        """Golden cases: each ``{"file", "graph", "inputs", "outputs", ...}``; arrays via :meth:`golden_arrays`."""
        return self.manifest.get("golden", [])

    def golden_arrays(self, case: dict) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        data = np.load(self.file(case["file"]), allow_pickle=False)
        inputs = {k: data[f"input.{k}"] for k in case["inputs"]}
        outputs = {k: data[f"output.{k}"] for k in case["outputs"]}
        return inputs, outputs


def verify_hashes(path: Path, manifest: dict) -> None:
    """Refuse a bundle whose files are missing or differ from the sha256 recorded at export."""
    files = manifest.get("files", {})
    for rel, digest in files.items():
        p = path / rel
        if not p.is_file():
            raise BundleError(f"{path}: file {rel} listed in the manifest is missing")
        actual = sha256_file(p)
        if actual != digest:
            raise BundleError(f"{path}: {rel} does not match its sha256 in the manifest (tampered or corrupt); refusing to load")
    for g in manifest["graphs"]:
        if g["file"] not in files:
            raise BundleError(f"{path}: graph {g['file']} has no sha256 in the manifest")


def read_manifest(path: str | os.PathLike) -> dict:
    path = Path(path)
    mpath = path / MANIFEST
    if not path.exists():
        raise BundleError(f"{path}: no such bundle")
    if not mpath.is_file():
        raise BundleError(f"{path}: not a bundle (no {MANIFEST})")
    try:
        manifest = json.loads(mpath.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{mpath}: manifest is not valid JSON ({e})") from None
    missing = [k for k in REQUIRED_FIELDS if k not in manifest]
    if missing:
        raise BundleError(f"{mpath}: manifest lacks field(s) {', '.join(missing)}")
    if manifest["schema_version"] > SCHEMA_VERSION:
        raise BundleError(f"{mpath}: schema version {manifest['schema_version']} is newer than this runtime understands ({SCHEMA_VERSION}); upgrade styleforge")
    return manifest


def open_bundle(path: str | os.PathLike, *, verify: bool = True) -> Bundle:
    """Load a bundle directory; with `verify` (default) every file's sha256 is checked."""
    path = Path(path)
    manifest = read_manifest(path)
    if verify:
        verify_hashes(path, manifest)
    return Bundle(path=path, manifest=manifest)


def update_bundle(path: str | os.PathLike, *, add_files: dict[str, bytes] | None = None, patch=None) -> dict:
    """Add files to a bundle and/or patch its manifest, keeping every hash right.

    Files are written atomically, then the manifest (with their sha256) replaces the old one
    atomically, so a reader sees either the old bundle or the new one. `patch(manifest)` edits in place.
    """
    from .atomic import write_bytes

    path = Path(path)
    manifest = read_manifest(path)
    for rel, data in (add_files or {}).items():
        write_bytes(path / rel, data)
        manifest["files"][rel] = hashlib.sha256(data).hexdigest()
    if patch is not None:
        patch(manifest)
    write_bytes(path / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode())
    return manifest
