"""Fetch a real Triton Inference Server for tests/test_triton_server.py (and .ci/run): the ``tritonserver`` binary and
Python backend shipped in the ``nvidia-pytriton`` wheel, pinned by version and sha256, plus the numpy 1.x its Python
backend stub needs.

usage: python benchmarks/fetch_tritonserver.py DIR      then: export STYLEFORGE_TRITONSERVER=DIR

DIR/wheel        the unpacked wheel (pytriton/tritonserver/bin/tritonserver, backends/python, python_backend_stubs/3.x)
DIR/stub-site    numpy 1.26.4 (pip --target): put before site-packages for the stub only. The stub's pybind11 build
                 handles numpy 1.x arrays only: with numpy 2.4 every output tensor came back empty (measured here);
                 the wheel itself declares numpy < 2, which is why it is not a dev dependency.
Only pip talks to the network (the package index); nothing is run from the wheel here.
"""
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "nvidia-pytriton==0.7.0"
WHEEL_FILE = "nvidia_pytriton-0.7.0-py3-none-manylinux_2_35_x86_64.whl"
WHEEL_SHA256 = "21f063ff93bb426d0c06b7a55e7eb9efcfe62c0dddd9a908e9877e18710128df"
STUB_NUMPY = "numpy==1.26.4"


def fetch(root: Path) -> Path:
    if (root / "wheel" / "pytriton" / "tritonserver" / "bin" / "tritonserver").is_file() and (root / "stub-site" / "numpy").is_dir():
        return root
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", WHEEL,
                        "-d", tmp], check=True)
        wheel = Path(tmp) / WHEEL_FILE
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            sys.exit(f"{wheel.name}: sha256 {digest}, expected {WHEEL_SHA256}")
        with zipfile.ZipFile(wheel) as z:
            for info in z.infolist():
                path = z.extract(info, root / "wheel")
                mode = info.external_attr >> 16
                if mode:
                    Path(path).chmod(mode & 0o777)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--target", str(root / "stub-site"), STUB_NUMPY], check=True)
    return root


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(fetch(Path(sys.argv[1]).resolve()))
