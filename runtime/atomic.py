"""Write files and directories under a temporary name and rename, so no reader ever sees half an artifact.

A directory replaces another by an atomic exchange where the OS has one (Linux ``renameat2``
``RENAME_EXCHANGE``: the path never disappears, not even for a moment); elsewhere by two renames, and
when the second fails the old directory is put back (never a hidden ``.NAME.old-…`` left behind). The
process umask is read once, at import: flipping it per call (``os.umask`` is the only portable way to
read it) would race with threads that create files meanwhile.

Durability: every file and folder is fsync'ed before its rename and the parent folder after it, so a crash (or a
kill -9, or a power cut) leaves the old artefact or the new one, never neither and never a half-written one. An
existing directory is replaced only when it is a StyleForge artefact of the kind being written
(runtime/artefacts.py); ``kind=None`` replaces nothing.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import tempfile
from pathlib import Path


def _read_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux ≥ 4.7: /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore, once, while the module is imported
    os.umask(mask)
    return mask


#: The umask files and directories get their permissions from (read once; :func:`refresh_umask` after a change).
UMASK = _read_umask()


def refresh_umask() -> int:
    """Read the umask again (for a program that changed it after importing StyleForge)."""
    global UMASK
    UMASK = _read_umask()
    return UMASK


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file's or a folder's content (a folder: its entries) to the disk; a no-op where the OS cannot."""
    try:
        flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if os.path.isdir(path) else 0)
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:  # filesystems without fsync for folders (EINVAL) are fine; a failing disk is not
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def fsync_tree(root: str | os.PathLike) -> None:
    """fsync every file and folder under `root` (and `root`), files first: the tree is on the disk before a rename
    publishes it."""
    for folder, dirs, files in os.walk(root, topdown=False):
        for name in files:
            if not os.path.islink(os.path.join(folder, name)):
                fsync_path(os.path.join(folder, name))
        fsync_path(folder)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None):
    """Yield a temporary file path beside `path`; rename it onto `path` only if the block succeeds.

    The temporary name keeps the final suffix (``.png``) so libraries that sniff the
    extension still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; give the file normal permissions
        fsync_path(tmp)
        os.replace(tmp, path)
        fsync_path(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


_renameat2 = None


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    global _renameat2
    if _renameat2 is None:
        try:
            fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _renameat2 = fn
        except (OSError, AttributeError):
            _renameat2 = False
    if not _renameat2:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if _renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # an old kernel, or a filesystem without it
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def replace_dir(tmp: str | os.PathLike, path: str | os.PathLike, *, kind: str | None = None) -> None:
    """Put directory `tmp` at `path`. What is at `path` is replaced only if it is a StyleForge artefact of `kind`
    (runtime/artefacts.py; ``kind=None``: only a missing `path` is written), else StyleForgeError naming it.
    `tmp` is fsync'ed first and the parent after. `path` is never missing where the OS can exchange two paths, and
    is never left missing elsewhere (the old directory is put back if the second rename fails)."""
    from .artefacts import check_replaceable

    tmp, path = Path(tmp), Path(path)
    fsync_tree(tmp)
    fsync_path(path.parent)
    if not path.exists() and not path.is_symlink():
        try:
            os.rename(tmp, path)  # refuses a non-empty folder created meanwhile (ENOTEMPTY): then checked below
            fsync_path(path.parent)
            return
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):  # anything but "created meanwhile": a real error
                raise
    check_replaceable(path, kind)
    if exchange(tmp, path):
        fsync_path(path.parent)
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old directory
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    os.rmdir(old)  # a unique free name beside `path`
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.replace(old, path)  # put the old one back
        raise
    fsync_path(path.parent)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, kind: str | None = None, overwrite: bool = True):
    """Yield a fresh temporary directory beside `path`; on success it replaces `path` whole, if what is there is a
    StyleForge artefact of `kind` (:func:`replace_dir`; checked before the block runs, and again at the swap).
    ``overwrite=False``: an existing `path` is refused whatever it is."""
    from .artefacts import check_replaceable

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not overwrite:
        raise FileExistsError(path)
    check_replaceable(path, kind)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~UMASK)
        replace_dir(tmp, path, kind=kind)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


#: the file inside a staging folder that names the process using it (see :func:`staging_dir`)
OWNER_FILE = ".styleforge-staging-owner"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep_stale_staging(path: str | os.PathLike) -> list[Path]:
    """Remove the staging folders of `path` left by runs that were killed (their owner process is gone). Only
    folders named ``.NAME.*.staging`` holding this module's owner file are touched; returns the ones removed."""
    path = Path(path)
    removed = []
    with contextlib.suppress(OSError):
        for cand in path.parent.glob(f".{path.name}.*.staging"):
            try:
                pid = int((cand / OWNER_FILE).read_text("ascii").split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if pid != os.getpid() and not _alive(pid):
                shutil.rmtree(cand, ignore_errors=True)
                removed.append(cand)
    return removed


@contextlib.contextmanager
def staging_dir(path: str | os.PathLike):
    """A fresh folder beside `path` to build and check a new artefact in (removed afterwards, whatever happens);
    folders left by killed runs for the same `path` are swept first (:func:`sweep_stale_staging`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_staging(path)
    stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".staging", dir=path.parent))
    try:
        (stage / OWNER_FILE).write_text(f"{os.getpid()}\n", "ascii")
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)
