"""Which CUDA major each installed GPU package is built for, and one line saying whether they agree.

torch, cuda-python (cuda-bindings), TensorRT and onnxruntime-gpu each ship for one CUDA major; two majors in one
process load two CUDA runtimes and fail in ways that name neither (a missing ``libcudart.so.12`` under the CUDA 13
torch, ``libnvinfer.so.10`` missing for ONNX Runtime's TensorRT provider). Read from package metadata only: nothing
is imported, so this runs without torch, a GPU or a driver (``styleforge doctor`` shows it)."""
from __future__ import annotations

import importlib.metadata as md
import re
from dataclasses import dataclass
from typing import Callable

#: how to bring one package to a CUDA major (README "GPU install")
FIX = {
    12: {"torch": "pip install torch --index-url https://download.pytorch.org/whl/cu128",
         "cuda-python": 'pip install "cuda-python>=12.6.2.post1,<13"',
         "tensorrt": "pip uninstall -y tensorrt tensorrt-cu13 tensorrt-cu13-libs tensorrt-cu13-bindings && "
                     "pip install 'styleforge[tensorrt]'",
         "onnxruntime-gpu": 'pip install "onnxruntime-gpu>=1.24.4,<1.27"'},
    13: {"torch": "pip install torch (pypi.org's build is CUDA 13)",
         "cuda-python": 'pip install "cuda-python>=13,<14"',
         "tensorrt": "pip uninstall -y tensorrt-cu12 tensorrt-cu12-libs && pip install 'styleforge[tensorrt-cu13]'",
         "onnxruntime-gpu": 'pip install "onnxruntime-gpu>=1.27"'},
}


@dataclass(frozen=True)
class Component:
    name: str             # torch, cuda-python, tensorrt, onnxruntime-gpu
    version: str
    cuda: int | None      # the CUDA major it is built for; None = none (a CPU build) or unknown
    how: str              # where the major was read


def _dist(name: str):
    try:
        return md.version(name), md.requires(name) or []
    except md.PackageNotFoundError:
        return None


Lookup = Callable[[str], "tuple[str, list[str]] | None"]


def _major_from_requirements(reqs: list[str]) -> int | None:
    """CUDA major named by a package's requirements: ``nvidia-*-cu12``, ``cuda-bindings>=13``, ``cuda-toolkit==13.0``,
    ``nvidia-cuda-runtime~=13.0`` (extras included: they say what the build is for)."""
    for r in reqs:
        name = re.split(r"[\s;<>=!~\[]", r, maxsplit=1)[0].lower().replace("_", "-")
        if m := re.search(r"-cu(\d+)$", name):
            return int(m.group(1))
        if name in ("cuda-bindings", "cuda-toolkit", "nvidia-cuda-runtime", "nvidia-cuda-nvrtc"):
            if m := re.search(r"(?:>=|==|~=)\s*(\d+)", r):
                return int(m.group(1))
    return None


def components(lookup: Lookup | None = None) -> list[Component]:
    """The GPU packages installed here (``lookup``: name -> (version, requirements) or None) with their CUDA majors."""
    lookup = lookup or _dist
    out = []
    if t := lookup("torch"):
        local = t[0].partition("+")[2]
        if local.startswith("cu"):
            out.append(Component("torch", t[0], int(local[2:-1]) if len(local) >= 4 else None, "version label"))  # cu128
        elif local:
            out.append(Component("torch", t[0], None, f"+{local} build"))
        else:
            out.append(Component("torch", t[0], _major_from_requirements(t[1]), "requirements"))
    for name in ("cuda-bindings", "cuda-python"):  # cuda-bindings is the module loaded; cuda-python its metapackage
        if c := lookup(name):
            out.append(Component("cuda-python", c[0], int(c[0].split(".")[0]), f"{name} version"))
            break
    for major in (12, 13):
        if c := lookup(f"tensorrt-cu{major}-libs"):
            out.append(Component("tensorrt", c[0], major, f"tensorrt-cu{major}-libs"))
    if c := lookup("onnxruntime-gpu"):
        major = _major_from_requirements(c[1])
        if major is None:  # wheels before 1.22 declare no CUDA packages: 1.19-1.21 are CUDA 12 by default
            major = 12 if tuple(int(x) for x in c[0].split(".")[:2]) >= (1, 19) else 11
        out.append(Component("onnxruntime-gpu", c[0], major, "requirements"))
    return out


def check(parts: list[Component] | None = None) -> str:
    """One line: the common CUDA major, or the mismatch with the commands that fix it."""
    parts = components() if parts is None else parts
    cuda = [p for p in parts if p.cuda is not None]
    if not cuda:
        return "no CUDA packages" + (f" ({', '.join(f'{p.name} {p.version}' for p in parts)})" if parts else "")
    majors = sorted({p.cuda for p in cuda})
    if len(majors) == 1:
        return f"CUDA {majors[0]} throughout ({', '.join(p.name for p in cuda)})"
    torch = next((p for p in cuda if p.name == "torch"), None)
    target = torch.cuda if torch else max(majors, key=lambda m: (sum(p.cuda == m for p in cuda), m))
    odd = [p for p in cuda if p.cuda != target]
    fixes = "; ".join(FIX.get(target, {}).get(p.name, f"reinstall {p.name} for CUDA {target}") for p in odd)
    return (f"MISMATCH of CUDA majors: {', '.join(f'{p.name} {p.version} (CUDA {p.cuda})' for p in cuda)}; "
            f"fix (to CUDA {target}): {fixes}")


def ort_tensorrt_note(parts: list[Component] | None = None) -> str | None:
    """ONNX Runtime's TensorRT provider loads TensorRT 10 (libnvinfer.so.10); TensorRT 11 serves only the tensorrt
    runner. A line when onnxruntime-gpu sits beside TensorRT 11 only, else None."""
    parts = components() if parts is None else parts
    trt = [p for p in parts if p.name == "tensorrt"]
    if any(p.name == "onnxruntime-gpu" for p in parts) and trt and all(p.version.startswith("11.") for p in trt):
        return ("ort-trt needs TensorRT 10 (ONNX Runtime's TensorRT provider loads libnvinfer.so.10); TensorRT "
                f"{trt[0].version} serves the tensorrt runner only")
    return None
