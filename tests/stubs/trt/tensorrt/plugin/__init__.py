"""``tensorrt.plugin`` over the stub core.

Where NVIDIA's own plugin layer of the stub's release is here (the ``tensorrt-cu12-bindings`` wheel pinned in the
dev extra; other releases through ``STYLEFORGE_TRT_PLUGIN_PATH``), this package IS that layer: its folder becomes
this package's path and its ``__init__`` runs here, so the decorators' checks, the plugin creator, the field
parsing and ``enqueue`` are NVIDIA's, over the small core in ``tensorrt/__init__.py``. Elsewhere the project's
stand-in answers (``tensorrt/_own_plugin.py``); tests/test_trt_plugin.py checks that both agree.
``__layer__`` says which: ``"nvidia 11.4.0.106"`` or ``"own"``.
"""
import tensorrt as _core

_found = _core._nvidia_plugin_layer()
if _found is not None:
    __layer__ = f"nvidia {_found[0]}"
    __path__[:] = [str(_found[1])]
    _init = _found[1] / "__init__.py"
    exec(compile(_init.read_text(), str(_init), "exec"))
else:
    __layer__ = "own"
    _core.Logger().log(_core.Logger.WARNING, "tensorrt.plugin (stand-in): experimental module")
    from tensorrt._own_plugin import *  # noqa: E402,F401,F403
    from tensorrt._own_plugin import __all__  # noqa: E402,F401
