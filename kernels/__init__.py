"""StyleForge CUDA kernels: fused covariance/Gram, style loss + gradient, whitening–colouring.

Importing this package needs neither CUDA, cuda-python nor torch. Submodules:

- ``loader``: NVRTC/nvcc → cubin per GPU arch, on-disk cache, launches through cuda-python.
- ``ops``: framework-free launch plans on device pointers and a caller-given stream.
- ``torch_ops``: ``torch.library`` custom ops (``styleforge::*``) with autograd; used by
  train/core/gram.py and train/wct/transforms.py for CUDA tensors (``STYLEFORGE_KERNELS=0`` turns them off).
- ``reference``: float64 numpy / eager torch references (and the benchmark baselines).
- ``trt_plugin``: the TensorRT plugin for whitening–colouring and the ONNX node that resolves it.
- ``trt_onnx_support``: TensorRT's ONNX operator support list and a static checker.
"""
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent
SOURCES = ("covariance.cu", "style_loss.cu", "wct.cu")


def set_enabled(flag: bool) -> None:
    """Switch the PyTorch custom ops on/off (imports torch_ops, hence torch)."""
    from . import torch_ops

    torch_ops.set_enabled(flag)
