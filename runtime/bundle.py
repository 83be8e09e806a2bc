"""Read a bundle (the export→runtime contract, runtime/manifest.py): parse manifest.json into typed
fields, check every file against its sha256, and hand out graphs, golden cases and tolerances."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import BundleError
from .manifest import MANIFEST, SCHEMA_VERSION, GoldenCase, GraphSpec, Manifest, manifest_to_json, parse_manifest

__all__ = ["Bundle", "open_bundle", "read_manifest", "update_bundle", "sha256_file", "MANIFEST", "SCHEMA_VERSION"]


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass
class Bundle:
    """A loaded, hash-checked bundle directory with its typed manifest."""

    path: Path
    manifest: Manifest
    _golden_cache: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.manifest.model.name

    @property
    def interface(self) -> str:
        """The runtime interface that runs it (stylizer, wct, generator, translator, graph)."""
        return self.manifest.model.interface

    family = interface  # the name before the typed manifest; kept for callers of the 0.1 API

    @property
    def method(self) -> str:
        return self.manifest.model.method

    @property
    def config(self):
        return self.manifest.model.config

    @property
    def graphs(self) -> dict[str, GraphSpec]:
        """Graphs keyed by role (``stylize``, ``generate``, ``encode_style``, …)."""
        return {g.role: g for g in self.manifest.graphs}

    def graph(self, role: str) -> GraphSpec:
        try:
            return self.manifest.graph(role)
        except BundleError as e:
            raise BundleError(f"{self.path}: {e}") from None

    def file(self, rel: str) -> Path:
        return self.path / rel

    @property
    def tolerances(self):
        return self.manifest.tolerances

    @property
    def golden(self) -> list[GoldenCase]:
        return self.manifest.golden

    def golden_arrays(self, case: GoldenCase) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        data = np.load(self.file(case.file), allow_pickle=False)
        inputs = {k: data[f"input.{k}"] for k in case.inputs}
        outputs = {k: data[f"output.{k}"] for k in case.outputs}
        return inputs, outputs


def verify_hashes(path: Path, manifest: Manifest) -> None:
    """Refuse a bundle whose files are missing, leave the bundle, or differ from the sha256 recorded at export."""
    root = path.resolve()
    for rel, digest in manifest.files.items():
        p = path / rel
        if not p.resolve().is_relative_to(root):
            raise BundleError(f"{path}: file {rel} leads outside the bundle (a link?); refusing to load")
        if not p.is_file():
            raise BundleError(f"{path}: file {rel} listed in the manifest is missing")
        if sha256_file(p) != digest:
            raise BundleError(f"{path}: {rel} does not match its sha256 in the manifest (tampered or corrupt); refusing to load")


def read_manifest(path: str | os.PathLike) -> Manifest:
    """The typed manifest of the bundle at `path` (files not checked)."""
    path = Path(path)
    mpath = path / MANIFEST
    if not path.exists():
        raise BundleError(f"{path}: no such bundle")
    if not mpath.is_file():
        raise BundleError(f"{path}: not a bundle (no {MANIFEST})")
    try:
        data = json.loads(mpath.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{mpath}: manifest is not valid JSON ({e})") from None
    return parse_manifest(data, str(mpath))


def open_bundle(path: str | os.PathLike, *, verify: bool = True) -> Bundle:
    """Load a bundle directory; with `verify` (default) every file's sha256 is checked."""
    path = Path(path)
    manifest = read_manifest(path)
    if verify:
        verify_hashes(path, manifest)
    return Bundle(path=path, manifest=manifest)


def update_bundle(path: str | os.PathLike, *, add_files: dict[str, bytes] | None = None, patch=None) -> Manifest:
    """Add files to a bundle and/or patch its typed manifest, keeping every hash right.

    Files are written atomically, then the manifest (with their sha256) replaces the old one
    atomically, so a reader sees either the old bundle or the new one. `patch(manifest)` edits in place.
    """
    from .atomic import write_bytes
    from .manifest import check_relative_path

    path = Path(path)
    manifest = read_manifest(path)
    for rel, data in (add_files or {}).items():
        check_relative_path(rel)
        write_bytes(path / rel, data)
        manifest.files[rel] = hashlib.sha256(data).hexdigest()
    if patch is not None:
        patch(manifest)
    write_bytes(path / MANIFEST, manifest_to_json(manifest).encode())
    return manifest
