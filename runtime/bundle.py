"""Read a bundle (the export→runtime contract, runtime/manifest.py): parse manifest.json into typed
fields, check the manifest's own digest and every file against its sha256, and hand out graphs, golden
cases and tolerances.

Integrity: every path the manifest names stays inside the bundle (no '..', no absolute path, no link
that leads out); the manifest is covered by its ``manifest_sha256``; :func:`update_bundle` changes a
bundle in an order that lets a concurrent :func:`open_bundle` see the old bundle or the new one, never
a mix (see its docstring), and writers take a lock so that two updates never lose each other's change.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import BundleError
from .manifest import (DIGEST_FIELD, MANIFEST, SCHEMA_VERSION, GoldenCase, GraphSpec, Manifest, check_digest,
                       check_relative_path, manifest_to_json, parse_manifest)

__all__ = ["Bundle", "open_bundle", "read_manifest", "update_bundle", "sha256_file", "allow_legacy_manifests", "MANIFEST",
           "SCHEMA_VERSION"]

#: whether a manifest without ``manifest_sha256`` (schema <= 2) may be read where the caller does not say: off, unless
#: a command runs with --allow-legacy-manifest (runtime/cli: :func:`allow_legacy_manifests` around the command)
_ALLOW_LEGACY = contextvars.ContextVar("styleforge_allow_legacy_manifest", default=False)


@contextlib.contextmanager
def allow_legacy_manifests(allow: bool = True):
    """Within the block, bundles whose manifest carries no digest are read (as with ``allow_legacy_manifest=True``)
    where a call does not say otherwise; for the command line's ``--allow-legacy-manifest``."""
    token = _ALLOW_LEGACY.set(bool(allow))
    try:
        yield
    finally:
        _ALLOW_LEGACY.reset(token)


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

    @property
    def family(self) -> str:
        """Deprecated name of :attr:`interface` (a *family* is the training package: ``manifest.model.family``)."""
        import warnings

        warnings.warn("Bundle.family is deprecated; use Bundle.interface", DeprecationWarning, stacklevel=2)
        return self.interface

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
        """The path of a bundle file; refuses one that leaves the bundle (also with ``verify=False``)."""
        return inside(self.path, rel)

    def graph_bytes(self, role: str) -> bytes:
        """The ONNX bytes of graph `role`, read now and checked now: the graph file against its sha256 in the manifest,
        and every file its ``external_data`` points to (inside the bundle, listed in the manifest, unchanged). Open
        sessions from these bytes, never from the path (the one place a runner reads a graph; external data names its
        files relative to :meth:`graph_dir`): a graph opened hours after load() (tiling graphs) of a bundle
        re-exported or edited in place is refused instead of run half old, half new."""
        spec = self.graph(role)
        try:
            data = self.file(spec.file).read_bytes()
        except FileNotFoundError:
            raise BundleError(f"{self.path}: graph file {spec.file} is missing (the bundle changed since it was "
                              "opened?); reload it") from None
        want = self.manifest.files.get(spec.file)
        if want is None or hashlib.sha256(data).hexdigest() != want:
            raise BundleError(f"{self.path}: {spec.file} no longer matches its sha256 in the manifest (changed since "
                              "the bundle was opened, or tampered); reload the bundle")
        check_external_data(self.path, self.manifest, spec.file, data, verify_files=True)
        return data

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

    def graph_dir(self, role: str) -> Path:
        """The folder graph `role`'s external-data paths are relative to."""
        return self.file(self.graph(role).file).parent


def inside(root: Path, rel: str) -> Path:
    """``root/rel`` for a manifest path, refusing one that leaves the bundle: '..', absolute, or a link (of the
    file or of a folder on its way) whose target lies outside."""
    check_relative_path(rel, str(root / MANIFEST))
    p = root / rel
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(p)]) != real_root:
        raise BundleError(f"{root}: file {rel} leads outside the bundle (a link?); refusing to load")
    return p


def check_external_data(root: Path, manifest: Manifest, graph_file: str, data: bytes, *, verify_files: bool) -> None:
    """Confine graph `graph_file`'s ``external_data`` to the bundle: each location relative (no absolute path, no
    '..'), inside the bundle after links are followed, and a file the manifest lists (so its sha256 is known;
    `verify_files`: checked now). ONNX Runtime then never reads a file the bundle does not vouch for."""
    import posixpath

    from .onnx_refs import external_data_locations

    try:
        locations = external_data_locations(data)
    except BundleError as e:
        raise BundleError(f"{root}: {graph_file}: {e}") from None
    for loc in locations:
        try:
            check_relative_path(loc, f"{root / graph_file} (external data)")
        except BundleError:
            raise BundleError(f"{root}: {graph_file} keeps tensor data at {loc!r}, outside the bundle; refusing to "
                              "load") from None
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(graph_file), loc.replace("\\", "/")))
        if rel not in manifest.files:
            raise BundleError(f"{root}: {graph_file} keeps tensor data in {loc!r}, which the manifest does not list "
                              "(no sha256 vouches for it); refusing to load")
        p = inside(root, rel)
        if verify_files and (not p.is_file() or sha256_file(p) != manifest.files[rel]):
            raise BundleError(f"{root}: {rel} (external data of {graph_file}) is missing or no longer matches its "
                              "sha256; reload the bundle")


def verify_hashes(path: Path, manifest: Manifest) -> None:
    """Refuse a bundle whose files are missing, leave the bundle, or differ from the sha256 recorded at export, or
    whose graphs keep tensor data outside it (:func:`check_external_data`)."""
    graph_files = {g.file for g in manifest.graphs}
    for rel, digest in manifest.files.items():
        p = inside(path, rel)
        data = None
        try:
            if rel in graph_files and p.is_file():  # read once: hashed, and scanned for external data
                data = p.read_bytes()
                actual = hashlib.sha256(data).hexdigest()
            else:
                actual = sha256_file(p) if p.is_file() else None
        except FileNotFoundError:  # removed between the two calls
            actual = None
        if actual is None:
            raise BundleError(f"{path}: file {rel} listed in the manifest is missing")
        if actual != digest:
            raise BundleError(f"{path}: {rel} does not match its sha256 in the manifest (tampered or corrupt); refusing to load")
        if data is not None:
            check_external_data(path, manifest, rel, data, verify_files=False)  # those files are hashed in this loop


def _read_json(path: Path) -> dict:
    mpath = path / MANIFEST
    if not path.exists():
        raise BundleError(f"{path}: no such bundle")
    if not mpath.is_file():
        raise BundleError(f"{path}: not a bundle (no {MANIFEST})")
    inside(path, MANIFEST)  # a manifest that is a link out of the bundle is refused like any other file
    try:
        data = json.loads(mpath.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{mpath}: manifest is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{mpath}: the manifest must be a JSON object")
    return data


def read_manifest(path: str | os.PathLike, *, verify: bool = True, allow_legacy_manifest: bool | None = None) -> Manifest:
    """The typed manifest of the bundle at `path`; with `verify` its ``manifest_sha256`` is checked (files are not),
    and a manifest without one (schema <= 2) is refused unless `allow_legacy_manifest` (None: the ambient setting,
    :func:`allow_legacy_manifests`)."""
    path = Path(path)
    data = _read_json(path)
    if verify:
        legacy = _ALLOW_LEGACY.get() if allow_legacy_manifest is None else allow_legacy_manifest
        try:
            check_digest(data, str(path / MANIFEST), allow_missing=legacy)
        except BundleError:
            parse_manifest(dict(data), str(path / MANIFEST))  # a malformed manifest is named as such first
            raise
    return parse_manifest(data, str(path / MANIFEST))


def open_bundle(path: str | os.PathLike, *, verify: bool = True, patience: float = 5.0,
                allow_legacy_manifest: bool | None = None) -> Bundle:
    """Load a bundle directory; with `verify` (default) the manifest's digest and every file's sha256 are checked.
    A manifest without a digest (schema <= 2, or the field removed) is refused unless `allow_legacy_manifest` (None:
    the ambient setting, :func:`allow_legacy_manifests`; off by default): it could have been edited by anyone.

    A check that fails while another process updates the bundle (:func:`update_bundle` replaced the manifest
    meanwhile) is repeated against the new manifest, for up to `patience` seconds while updates keep coming: a
    concurrent update is not corruption. A failure with the manifest unchanged is reported at once."""
    path = Path(path)
    deadline = time.monotonic() + patience
    attempt = 0
    while True:
        manifest = read_manifest(path, verify=verify, allow_legacy_manifest=allow_legacy_manifest)
        if not verify:
            break
        try:
            verify_hashes(path, manifest)
            break
        except BundleError:
            try:
                changed = _read_json(path).get(DIGEST_FIELD) != manifest.manifest_sha256
            except BundleError:
                changed = True
            if not changed or time.monotonic() > deadline:
                raise
            time.sleep(min(0.05, 0.001 * 2 ** attempt))
            attempt += 1
    return Bundle(path=path, manifest=manifest)


#: A file name with a content tag before its suffix: ``validation-ort-cpu.3f2a9c1d0b7e.json``.
_TAGGED = re.compile(r"^(?P<stem>.+)\.[0-9a-f]{12}(?P<ext>\.[^./]+)?$")
LOCK_FILE = ".styleforge-update.lock"


def logical_name(stored: str) -> str:
    """The name a caller gave a file (``validation-ort-cpu.json``) from the name it is stored under."""
    m = _TAGGED.match(stored)
    return m.group("stem") + (m.group("ext") or "") if m else stored


def _tagged(rel: str, digest: str) -> str:
    head, dot, ext = rel.rpartition(".")
    if not dot or "/" in ext:
        return f"{rel}.{digest[:12]}"
    return f"{head}.{digest[:12]}.{ext}"


@contextlib.contextmanager
def bundle_lock(path: Path):
    """Exclusive lock for a read-modify-write of a bundle (``flock`` on a lock file inside it, not part of its
    content); readers never take it."""
    fd = os.open(Path(path) / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except ImportError:  # Windows
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def update_bundle(path: str | os.PathLike, *, add_files: dict[str, bytes] | None = None, patch=None) -> Manifest:
    """Add files to a bundle and/or patch its typed manifest, keeping every hash and the manifest digest right.

    The order lets a concurrent :func:`open_bundle` see the old bundle or the new one, never a mix:

    1. a file the current manifest lists is never rewritten: new content for a listed name is stored under a
       content-tagged name (``name.<sha12>.ext``) and every field that named the old file names the new one
       (`patch` and callers use the plain name; :func:`logical_name` maps back);
    2. the manifest (with its digest) then replaces the old one in one atomic rename;
    3. only then are the files it no longer lists removed (a reader still checking the old manifest finds
       one missing, sees the manifest changed, and checks again: :func:`open_bundle`).

    Every file is fsync'ed before the manifest that lists it is renamed into place (runtime/atomic.py), so a crash
    leaves the old manifest (new files unlisted, overwritten by the next update) or the new one with its files.

    Writers hold :func:`bundle_lock`, so two updates never lose each other's change. `patch(manifest)` edits
    the typed manifest in place. Returns the new manifest.
    """
    path = Path(path)
    try:
        return _update(path, add_files, patch)
    except OSError as e:  # a full disk, a read-only folder …: the manifest (the bundle) is the old one
        raise BundleError(f"{path}: could not update the bundle ({e.strerror or e}"
                          f"{': ' + str(e.filename) if e.filename else ''}); it is unchanged") from None


def _update(path: Path, add_files: dict[str, bytes] | None, patch) -> Manifest:
    from .atomic import write_bytes

    with bundle_lock(path):
        manifest = read_manifest(path)
        files = manifest.files
        stored: dict[str, str] = {}
        for rel, data in (add_files or {}).items():
            check_relative_path(rel)
            digest = hashlib.sha256(data).hexdigest()
            # a name the manifest does not list is no part of the bundle (a file an interrupted update left): it is
            # overwritten under its own name, so names the graphs point to (external data) stay right on a rerun
            name = rel if rel not in files else _tagged(rel, digest)
            if files.get(name) != digest or not (path / name).is_file():
                write_bytes(inside(path, name), data)
            stored[rel] = name
        superseded = [f for f in files if logical_name(f) in stored and f != stored[logical_name(f)]]
        for f in superseded:
            del files[f]
        for rel, name in stored.items():
            files[name] = hashlib.sha256(add_files[rel]).hexdigest()
        if patch is not None:
            patch(manifest)
        renamed = {**{f: stored[logical_name(f)] for f in superseded}, **{rel: name for rel, name in stored.items()}}
        manifest.replace_references(renamed)
        write_bytes(path / MANIFEST, manifest_to_json(manifest).encode())
        for f in superseded:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path / f)
    return manifest
