"""A real Triton Inference Server for tests: the ``tritonserver`` binary and Python backend that the ``nvidia-pytriton``
wheel ships (0.7.0, CPU-capable), started on 127.0.0.1 for one test and stopped after it (and by ``timeout`` in any
case).

Where it comes from: ``$STYLEFORGE_TRITONSERVER``, a folder made by ``benchmarks/fetch_tritonserver.py`` (the pinned
wheel, checked by sha256 and unpacked in ``wheel/``; numpy 1.26 for the Python backend stub in ``stub-site/``);
.ci/run makes one. The wheel is not a dev dependency: it declares numpy < 2.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path


def root() -> Path | None:
    env = os.environ.get("STYLEFORGE_TRITONSERVER")
    return Path(env) if env else None


def server_folder() -> Path | None:
    folder = root() / "wheel" / "pytriton" / "tritonserver" if root() else None
    return folder if folder is not None and (folder / "bin" / "tritonserver").is_file() else None


def why_not() -> str | None:
    """Why a server cannot start here (a skip reason), or None."""
    folder = server_folder()
    if folder is None:
        return ("no tritonserver here: python benchmarks/fetch_tritonserver.py DIR, then STYLEFORGE_TRITONSERVER=DIR "
                "(.ci/run does it)")
    if not (root() / "stub-site" / "numpy").is_dir():
        return f"{root()}/stub-site has no numpy 1.x for the Python backend stub (benchmarks/fetch_tritonserver.py)"
    stub = folder / "python_backend_stubs" / f"{sys.version_info.major}.{sys.version_info.minor}" / "triton_python_backend_stub"
    if not stub.is_file():
        return f"the wheel has no Python backend stub for Python {sys.version_info.major}.{sys.version_info.minor}"
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        return "this Python has no shared libpython, which Triton's Python backend stub embeds"
    return None


def _python_home(work: Path) -> Path:
    """A Python home for the Python backend stub: this interpreter's standard library and site-packages as symlinks,
    except numpy, which comes from ``stub-site`` (1.26): the stub imports numpy before the model's code runs.

    How the stub finds it (measured: it ignores PYTHONHOME and PYTHONPATH, and its sys.executable is the first
    ``python3`` on PATH): Python searches up from that ``python3``'s folder for ``lib/python3.X/os.py``. So
    ``<home>/bin/python3`` (a small script, not a symlink, which would lead back here) goes first on PATH."""
    import site

    home = work / "pyhome"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    lib = home / "lib" / version
    packages = lib / "site-packages"
    packages.mkdir(parents=True)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (lib / entry.name).symlink_to(entry)
    stub_site = root() / "stub-site"
    for folder in [stub_site, *map(Path, site.getsitepackages())]:
        for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
            is_numpy = entry.name in ("numpy", "numpy.libs") or entry.name.startswith("numpy-")
            if (is_numpy and folder != stub_site) or (packages / entry.name).exists():
                continue
            (packages / entry.name).symlink_to(entry)
    (home / "bin").mkdir()
    launcher = home / "bin" / "python3"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    launcher.chmod(0o755)
    return home


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``tritonserver`` on 127.0.0.1 over ``repo``; models that fail to load leave the server up (their reasons are in
    the repository index)."""

    def __init__(self, repo: Path, work: Path, *, lifetime_s: int = 240):
        folder = server_folder()
        libs = folder.parents[1] / "nvidia_pytriton.libs"
        backends = work / "backends"
        python = backends / "python"
        python.mkdir(parents=True)
        for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
            shutil.copy(folder / "backends" / "python" / name, python / name)
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        shutil.copy(folder / "python_backend_stubs" / version / "triton_python_backend_stub", python)
        self.port = _free_port()
        self.url = f"127.0.0.1:{self.port}"
        env = {**os.environ,
               "LD_LIBRARY_PATH": os.pathsep.join([sysconfig.get_config_var("LIBDIR"), str(libs),
                                                   os.environ.get("LD_LIBRARY_PATH", "")]),
               "PATH": os.pathsep.join([str(_python_home(work) / "bin"), os.environ.get("PATH", "")]),
               "STYLEFORGE_TRITON_THREADS": "1"}
        self.log = work / "tritonserver.log"
        cmd = ["timeout", str(lifetime_s), str(folder / "bin" / "tritonserver"), f"--model-repository={repo}",
               f"--backend-directory={backends}", "--http-address=127.0.0.1", f"--http-port={self.port}",
               "--allow-grpc=false", "--allow-metrics=false", "--exit-on-error=false", "--exit-timeout-secs=5",
               "--disable-auto-complete-config"]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)

    def wait_live(self, timeout_s: float = 60.0) -> None:
        """Until the HTTP endpoint answers (models may still be loading or failed)."""
        import urllib.request

        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tritonserver exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://{self.url}/v2/health/live", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"tritonserver did not come up in {timeout_s} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
