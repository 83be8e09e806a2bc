"""Runtime models: a loaded bundle plus the pre/post-processing of its runtime interface.

Each interface (``stylizer``, ``wct``, ``generator``, ``translator`` …) is a module of
runtime/families/ that registers a :class:`RuntimeModel` subclass with its interface spec
(``@register_interface(SpecInstance)``, runtime/interfaces.py); ``load`` picks the one the manifest's
``model.interface`` names.
"""
from __future__ import annotations

import threading

import numpy as np

from .backends import open_session
from .bundle import Bundle, open_bundle
from .errors import unknown_name
from .interfaces import InterfaceSpec, find_interface, interface_specs, load_interfaces, register_interface

__all__ = ["RuntimeModel", "load", "register_interface"]


class RuntimeModel:
    """Base: opens one backend session per graph role, lazily, and runs raw graphs.

    Subclasses add ``__call__`` with the interface's image handling.

    Threads: one loaded model may be shared by the threads of a server; ``model(image)`` and ``run`` are safe
    to call concurrently. A graph's session is opened once (under a lock; later calls take no lock), every
    call keeps its own inputs and outputs, and concurrent runs of one session follow its runner's thread
    policy (``shared``: ONNX Runtime's ``InferenceSession.run`` is thread-safe; ``context-pool``: TensorRT
    execution contexts are checked out one per run; ``serial``: a lock). Interface state shared between
    calls (the WCT style-statistics cache) is guarded by its own lock.
    """

    interface = "graph"
    #: the interface's spec (runtime/interfaces.py), set by ``register_interface``
    spec: InterfaceSpec

    def __init__(self, bundle: Bundle, backend: str = "auto", **options):
        self.bundle = bundle
        self.backend = backend
        self.options = options
        self._sessions: dict[str, object] = {}
        self._sessions_lock = threading.Lock()

    @property
    def family(self) -> str:
        """Deprecated name of :attr:`interface` (a *family* is a training package; this is the interface)."""
        import warnings

        warnings.warn("RuntimeModel.family is deprecated; use RuntimeModel.interface", DeprecationWarning, stacklevel=2)
        return self.interface

    @property
    def manifest(self):
        return self.bundle.manifest

    @property
    def config(self):
        """The manifest's typed ``model.config`` (the interface's config dataclass)."""
        return self.bundle.manifest.model.config

    def session(self, role: str | None = None):
        role = role or self.bundle.manifest.graphs[0].role
        sess = self._sessions.get(role)
        if sess is None:
            with self._sessions_lock:  # double-checked: two threads never open the same graph twice
                sess = self._sessions.get(role)
                if sess is None:
                    sess = self._sessions[role] = open_session(self.bundle, role, self.backend, **self.options)
        return sess

    def run(self, feeds: dict[str, np.ndarray], role: str | None = None) -> dict[str, np.ndarray]:
        """Run one graph on raw named inputs (no pre/post-processing)."""
        return self.session(role).run(feeds)

    def tiled(self, role: str, **options):
        """A :class:`~styleforge.runtime.tiling.TiledRunner` for `role` (cached per option set)."""
        from .tiling import TiledRunner

        key = (role, tuple(sorted(options.items())))
        cache = self.__dict__.setdefault("_tiled", {})
        runner = cache.get(key)
        if runner is None:
            with self.__dict__.setdefault("_tiled_lock", threading.Lock()):  # double-checked, as session()
                runner = cache.get(key)
                if runner is None:
                    runner = cache[key] = TiledRunner(self, role, **options)
        return runner

    def can_tile(self, role: str) -> bool:
        return self.manifest.tiling_for(role) is not None

    @property
    def size_multiple(self) -> int:
        return int(self.manifest.size_constraints.multiple_of)

    def describe(self) -> str:
        m = self.manifest
        return f"{m.model.name} ({m.model.method} → {m.model.interface}, {m.precision}, opset {m.opset})"


register_interface(InterfaceSpec())(RuntimeModel)  # a bare graph bundle: raw ``run`` only, no image handling


def load(path, backend: str = "auto", *, verify: bool = True, allow_legacy_manifest: bool | None = None,
         **options) -> RuntimeModel:
    """Load a bundle for inference: ``model = load("x.sfbundle"); out = model(image)``.

    `backend`: ``auto`` | ``ort-cpu`` | ``ort-cuda`` | ``tensorrt``; `options` go to the backend
    (``threads=N`` for ONNX Runtime). The bundle's hashes are checked unless ``verify=False``; a manifest without a
    digest (schema <= 2) is refused unless ``allow_legacy_manifest=True`` (runtime/bundle.py).
    """
    bundle = open_bundle(path, verify=verify, allow_legacy_manifest=allow_legacy_manifest)
    spec = find_interface(bundle.interface)
    if spec is None:
        raise unknown_name("runtime interface in bundle", bundle.interface, interface_specs())
    return spec.model(bundle, backend=backend, **options)


def __getattr__(name: str):
    """The names this module had before the interface specs (runtime/interfaces.py), with a warning."""
    import warnings

    if name in ("INTERFACES", "FAMILIES"):
        warnings.warn(f"styleforge.runtime.model.{name} is deprecated; use styleforge.runtime.interfaces."
                      "interface_specs()", DeprecationWarning, stacklevel=2)
        return {n: s.model for n, s in interface_specs().items()}
    if name == "register_family":
        warnings.warn("register_family is deprecated; use register_interface", DeprecationWarning, stacklevel=2)
        return register_interface
    if name == "_import_families":
        return load_interfaces
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
