"""runtime/cuda_stack.py: the CUDA major of torch, cuda-python, TensorRT and onnxruntime-gpu from package metadata,
and `styleforge doctor`'s one line when they disagree (issue 21: the `tensorrt` metapackage became CUDA 13 while
cuda-python stayed pinned to 12)."""
import pytest

from styleforge.runtime import cuda_stack

pytestmark = pytest.mark.runtime  # package metadata only: runs in the runtime-only venv too

# metadata as the real wheels declare it (read with pip's --dry-run --report from pypi.org, 2026-12-07)
TORCH_PYPI = ("2.13.0", ["cuda-bindings<14,>=13.0.3; platform_system == \"Linux\"", "filelock"])
TORCH_CU128 = ("2.13.0+cu128", ["nvidia-cuda-runtime-cu12==12.8.90; platform_system == \"Linux\""])
TORCH_CPU = ("2.13.0+cpu", ["filelock"])
ORT_126 = ("1.26.0", ['nvidia-cuda-runtime-cu12~=12.0; extra == "cuda"', 'nvidia-cudnn-cu12~=9.0; extra == "cudnn"'])
ORT_131 = ("1.31.1", ['nvidia-cuda-runtime~=13.0; extra == "cuda"', 'nvidia-cudnn-cu13~=9.0; extra == "cudnn"'])


def lookup(**dists):
    return lambda name: dists.get(name.replace("-", "_"))


def test_the_issue_21_stack_is_one_line_naming_every_major_and_the_fix():
    """pypi.org's torch (CUDA 13) with the old extras (cuda-python < 13, TensorRT 11 for CUDA 12, onnxruntime-gpu 1.26)."""
    parts = cuda_stack.components(lookup(torch=TORCH_PYPI, cuda_python=("12.9.10", []),
                                         tensorrt_cu12_libs=("11.4.0.106", []), onnxruntime_gpu=ORT_126))
    assert [(p.name, p.cuda) for p in parts] == [("torch", 13), ("cuda-python", 12), ("tensorrt", 12),
                                                 ("onnxruntime-gpu", 12)]
    line = cuda_stack.check(parts)
    assert "\n" not in line and line.startswith("MISMATCH of CUDA majors: torch 2.13.0 (CUDA 13)")
    assert "fix (to CUDA 13)" in line and "cuda-python>=13,<14" in line and "styleforge[tensorrt-cu13]" in line
    assert "onnxruntime-gpu>=1.27" in line
    assert "libnvinfer.so.10" in cuda_stack.ort_tensorrt_note(parts)


@pytest.mark.parametrize("torch, ort, tensorrt, expected", [
    (TORCH_CU128, ORT_126, "tensorrt_cu12_libs", "CUDA 12 throughout (torch, cuda-python, tensorrt, onnxruntime-gpu)"),
    (TORCH_PYPI, ORT_131, "tensorrt_cu13_libs", "CUDA 13 throughout (torch, cuda-python, tensorrt, onnxruntime-gpu)"),
])
def test_one_major_throughout(torch, ort, tensorrt, expected):
    major = expected.split()[1]
    got = cuda_stack.check(cuda_stack.components(lookup(torch=torch, onnxruntime_gpu=ort, cuda_bindings=(f"{major}.9.0", []),
                                                        **{tensorrt: ("10.16.1.11", [])})))
    assert got == expected


def test_cpu_torch_alone_and_a_majority_without_torch():
    assert cuda_stack.check(cuda_stack.components(lookup(torch=TORCH_CPU))) == "no CUDA packages (torch 2.13.0+cpu)"
    line = cuda_stack.check(cuda_stack.components(lookup(cuda_python=("12.9.10", []), tensorrt_cu12_libs=("10.16.1.11", []),
                                                         onnxruntime_gpu=ORT_131)))
    assert "fix (to CUDA 12)" in line and 'onnxruntime-gpu>=1.24.4,<1.27' in line and "tensorrt-cu13" not in line.split("fix")[1]


def test_doctor_shows_the_line(monkeypatch):
    from styleforge.runtime import doctor

    monkeypatch.setattr(cuda_stack, "_dist", lookup(torch=TORCH_PYPI, cuda_python=("12.9.10", [])))
    v = doctor.versions()
    assert v["cuda_stack"].startswith("MISMATCH") and "cuda-python 12.9.10 (CUDA 12)" in v["cuda_stack"]
    assert "cuda_stack" in doctor.format_doctor({"versions": v, "gpu": {"error": "none"}, "runners": []})


def test_gpu_extras_hold_one_cuda_major():
    """pyproject's GPU extras: CUDA 12 throughout (the README's cu128 torch), the CUDA 13 alternative apart. The
    `tensorrt` metapackage is CUDA 13 from 11.0 and onnxruntime-gpu's PyPI wheels from 1.27, so neither appears
    unbounded in a CUDA 12 extra; ONNX Runtime's TensorRT provider gets TensorRT 10."""
    import re
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]

    def spec(extra, name):
        return next(r[len(name):] for r in extras[extra] if re.match(rf"{re.escape(name)}(?![\w-])", r))

    for extra in ("gpu", "gpu-ort", "tensorrt"):
        assert spec(extra, "cuda-python") == ">=12.6.2.post1,<13", extra
    assert spec("gpu-ort", "onnxruntime-gpu").startswith(">=1.24.4,<1.27;") and spec("tensorrt", "tensorrt-cu12") == ">=10.6"
    assert not any(re.match(r"tensorrt(?![\w-])", r) for e in extras.values() for r in e)
    assert any(r.startswith("nvidia-cuda-nvrtc-cu12") for r in extras["tensorrt"])
    assert spec("ort-trt", "tensorrt-cu12") == ">=10.9,<11"
    assert all(re.search(r"cu13|nvrtc>=13|cuda-python>=13", r) for r in extras["tensorrt-cu13"])
