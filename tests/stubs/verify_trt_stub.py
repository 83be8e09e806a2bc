"""Run the stand-in-versus-NVIDIA agreement test (tests/test_trt_plugin.py::test_stand_in_agrees_with_nvidia_layer)
against NVIDIA's ``tensorrt.plugin`` layer of several TensorRT releases.

usage: python tests/stubs/verify_trt_stub.py [--cache DIR] [VERSION ...]   (default: the releases in RELEASES)

Each ``tensorrt-cu12-bindings==VERSION`` wheel (about 1.3 MB; only its pure-Python ``plugin`` folder is used, the
compiled core needs libnvinfer) is fetched with ``pip download --no-deps`` into the cache folder, unpacked there
(plugin folder and dist-info only) and named in ``STYLEFORGE_TRT_PLUGIN_PATH`` for the test. Nothing is kept in the
repository (NVIDIA's licence). .ci/run step 3 calls this.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

#: one release per change of the plugin layer that StyleForge's plugin meets: 10.6 (first), 10.9 (aot_impl),
#: 10.16 (last 10.x), 11.1, 11.2 (isclass guard, one-element fields), 11.3 (NDArray detection), 11.4 (dev extra)
RELEASES = ["10.6.0", "10.9.0.34", "10.16.1.11", "11.1.0.106", "11.2.1.2", "11.3.0.99", "11.4.0.106"]
ROOT = Path(__file__).resolve().parents[2]


def unpacked(version: str, cache: Path) -> Path:
    """The folder holding ``tensorrt_bindings/plugin`` and the dist-info of this release (fetched once)."""
    dest = cache / version
    if (dest / "tensorrt_bindings" / "plugin" / "__init__.py").is_file():
        return dest
    wheels = cache / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    f"tensorrt-cu12-bindings=={version}", "-d", str(wheels)], check=True)
    (wheel,) = wheels.glob(f"tensorrt_cu12_bindings-{version}-*.whl")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(dest, [n for n in z.namelist() if n.startswith("tensorrt_bindings/plugin/") or ".dist-info/" in n])
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("versions", nargs="*", default=RELEASES)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "styleforge-trt-plugin-wheels")
    args = ap.parse_args()
    folders = [str(unpacked(v, args.cache)) for v in args.versions]
    env = {**os.environ, "STYLEFORGE_TRT_PLUGIN_PATH": os.pathsep.join(folders)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
           "tests/test_trt_plugin.py"]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
