"""TensorRT's timing cache, kept across builds on disk (Polygraphy's pattern): load it (empty when missing)
into the builder config with ``ignore_mismatch=False``, build, then — under a file lock, since another
build may have written it meanwhile — re-read the file, ``combine`` it with this build's cache and write
it back atomically. A cache is specific to the TensorRT version and the device, so the default path is
keyed by both: ``<cache root>/tensorrt/<version>/<gpu>-sm<cc>/timing.cache`` (cache root:
``$STYLEFORGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/styleforge``, else ``~/.cache/styleforge``). A file TensorRT cannot
read (truncated by a crash, not a cache at all) is renamed ``timing.cache.corrupt`` with a warning, and the build
starts from an empty cache instead of failing.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
import sys
from pathlib import Path

from ...runtime.atomic import write_bytes


def default_path(trt_version: str, gpu: str, cc: str) -> Path:
    from ...runtime.backends.ort import cache_root

    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", gpu).strip("-") or "gpu"
    return cache_root() / "tensorrt" / trt_version / f"{slug}-sm{cc.replace('.', '')}" / "timing.cache"


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive advisory lock on ``path.lock`` (fcntl; a no-op where fcntl does not exist)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path) + ".lock", "a+b") as f:
        try:
            import fcntl
        except ImportError:  # Windows: builds of one cache file in parallel are not serialised there
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def load(config, path: Path | None) -> str | None:
    """Give the builder `config` the timing cache at `path` (an empty one if the file is missing); returns the
    sha256 of the bytes loaded ("" for empty), or None when caching is off."""
    if path is None:
        return None
    with file_lock(path):
        data = path.read_bytes() if path.is_file() else b""
        cache = _deserialise(config, data)
        if cache is None:  # not a timing cache (truncated, another program's file): keep it aside, start empty
            aside = set_aside(path)
            print(f"styleforge: warning: timing cache {path} could not be read by TensorRT; moved to {aside.name}, "
                  "starting an empty one", file=sys.stderr)
            data = b""
            cache = config.create_timing_cache(b"")
    if not config.set_timing_cache(cache, False):
        print(f"styleforge: warning: timing cache {path} was made on another device; starting an empty one",
              file=sys.stderr)
        data = b""
        config.set_timing_cache(config.create_timing_cache(b""), False)
    return hashlib.sha256(data).hexdigest() if data else ""


def _deserialise(config, data: bytes):
    """TensorRT's cache from bytes, or None where TensorRT cannot read them (it returns None or raises)."""
    try:
        return config.create_timing_cache(data)
    except Exception:  # noqa: BLE001  (TensorRT raises RuntimeError/TypeError from its bindings on a bad blob)
        return None


def set_aside(path: Path) -> Path:
    """Rename an unreadable cache file to ``<name>.corrupt`` (one kept: the latest), never deleting it outright."""
    aside = path.with_name(path.name + ".corrupt")
    path.replace(aside)
    return aside


def save(config, path: Path | None) -> None:
    """Merge this build's timing cache into the file at `path` (under the lock) and write it atomically."""
    if path is None:
        return
    cache = config.get_timing_cache()
    if cache is None:
        return
    with file_lock(path):
        if path.is_file():
            disk = _deserialise(config, path.read_bytes())
            if disk is None:  # written meanwhile by something else, unreadable: ours replaces it, theirs is kept aside
                set_aside(path)
            elif disk.combine(cache, False):  # False: made by another TensorRT version; ours replaces it
                cache = disk
        write_bytes(path, bytes(cache.serialize()))
