"""Use the repository without installing it: a folder of symlinks that maps the four source folders onto
the ``styleforge`` namespace (as pyproject.toml's package-dir does), for machines where StyleForge is not
pip-installed (the GPU machine). The one copy of this shim:

    export PYTHONPATH="$(python3 benchmarks/sfpath.py)${PYTHONPATH:+:$PYTHONPATH}"     # shell scripts
    import sfpath; sfpath.install()                                                 # Python scripts here
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("train", "export", "runtime", "kernels")


def namespace_dir() -> Path:
    """A fresh temporary folder holding ``styleforge/{train,export,runtime,kernels}`` links into the repository."""
    root = Path(tempfile.mkdtemp(prefix="sfpath-"))
    (root / "styleforge").mkdir()
    for sub in FOLDERS:
        (root / "styleforge" / sub).symlink_to(REPO / sub, target_is_directory=True)
    return root


def install() -> None:
    """Make ``import styleforge`` work in this process (no-op where StyleForge is installed)."""
    try:
        import styleforge.runtime  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(namespace_dir()))


if __name__ == "__main__":
    print(namespace_dir())
