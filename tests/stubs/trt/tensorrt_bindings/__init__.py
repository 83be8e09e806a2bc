"""Stub of the split PyPI wheels' ``tensorrt_bindings`` package (the real ``tensorrt`` front end is
``from tensorrt_bindings import *``). Here it is the other way round: the stub's core lives in
``tensorrt``; ``tensorrt_bindings.plugin`` loads the same plugin sources under this name, so it is
importable even when ``tensorrt.plugin`` is not (pip layout, 10.6 <= version < 10.14)."""
import tensorrt as _trt
from tensorrt import *  # noqa: F401,F403
from tensorrt import __version__  # noqa: F401

if _trt._V >= (10, 6):
    import importlib.util as _u
    import os as _os
    import sys as _sys

    try:  # one copy when both names are importable (the >= 10.14 front end re-exports this package)
        import tensorrt.plugin as plugin
        _sys.modules["tensorrt_bindings.plugin"] = plugin
    except ModuleNotFoundError:
        plugin = None
if _trt._V >= (10, 6) and plugin is None:
    _dir = _os.path.join(_os.path.dirname(_trt.__file__), "plugin")
    _spec = _u.spec_from_file_location("tensorrt_bindings.plugin", _os.path.join(_dir, "__init__.py"),
                                       submodule_search_locations=[_dir])
    plugin = _u.module_from_spec(_spec)
    _sys.modules["tensorrt_bindings.plugin"] = plugin
    _spec.loader.exec_module(plugin)
