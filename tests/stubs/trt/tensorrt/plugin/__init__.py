"""Stub of ``tensorrt.plugin`` ("quickly deployable plugins", TensorRT >= 10.6).

Public names as in the real module: TensorDesc, Tensor, AutoTuneCombination, register, impl,
autotune, op (and aot_impl, KernelLaunchParams, SymIntExprs from 10.9). Importing it logs the same
warning as the real one (tensorrt_bindings/plugin/__init__.py L20-21, every release 10.6-11.4):
"Functionality provided through tensorrt.plugin module is experimental."
"""
import tensorrt as trt

trt.Logger().log(trt.Logger.WARNING, "Functionality provided through tensorrt.plugin module is experimental.")

from ._autotune import AutoTuneCombination  # noqa: E402
from ._lib import autotune, impl, op, register  # noqa: E402
from ._tensor import Shape, ShapeExprs, SymExprs, Tensor, TensorDesc  # noqa: E402

__all__ = ["AutoTuneCombination", "Shape", "ShapeExprs", "SymExprs", "Tensor", "TensorDesc", "autotune", "impl", "op",
           "register"]

if trt._V >= (10, 9):
    from ._lib import aot_impl  # noqa: E402
    from ._tensor import KernelLaunchParams, SymIntExprs  # noqa: E402

    __all__ += ["aot_impl", "KernelLaunchParams", "SymIntExprs"]
