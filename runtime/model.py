"""Runtime models: a loaded bundle plus the pre/post-processing of its family.

Each family (``stylizer``, ``wct``, ``gan``, ``translator`` …) registers a subclass of
:class:`RuntimeModel` under the ``model.family`` value its exporter writes into the manifest.
"""
from __future__ import annotations

import numpy as np

from .backends import open_session
from .bundle import Bundle, open_bundle
from .errors import unknown_name

#: family name -> RuntimeModel subclass
FAMILIES: dict[str, type["RuntimeModel"]] = {}


def register_family(name: str):
    def deco(cls):
        FAMILIES[name] = cls
        cls.family = name
        return cls
    return deco


class RuntimeModel:
    """Base: opens one backend session per graph role, lazily, and runs raw graphs.

    Subclasses add ``__call__`` with the family's image handling.
    """

    family = "base"

    def __init__(self, bundle: Bundle, backend: str = "auto", **options):
        self.bundle = bundle
        self.backend = backend
        self.options = options
        self._sessions: dict[str, object] = {}

    @property
    def manifest(self) -> dict:
        return self.bundle.manifest

    def session(self, role: str | None = None):
        role = role or self.bundle.manifest["graphs"][0]["role"]
        if role not in self._sessions:
            self._sessions[role] = open_session(self.bundle, role, self.backend, **self.options)
        return self._sessions[role]

    def run(self, feeds: dict[str, np.ndarray], role: str | None = None) -> dict[str, np.ndarray]:
        """Run one graph on raw named inputs (no pre/post-processing)."""
        return self.session(role).run(feeds)

    @property
    def size_multiple(self) -> int:
        return int(self.manifest.get("size_constraints", {}).get("multiple_of", 1))

    def describe(self) -> str:
        m = self.manifest
        return f"{m['model']['name']} ({m['model']['family']}, {m['precision']}, opset {m['opset']})"


register_family("graph")(RuntimeModel)  # a bare graph bundle: raw ``run`` only, no image handling


def _import_families() -> None:
    """Import the modules that register runtime families (kept lazy: no cost until load())."""
    from . import families  # noqa: F401


def load(path, backend: str = "auto", *, verify: bool = True, **options) -> RuntimeModel:
    """Load a bundle for inference: ``model = load("x.sfbundle"); out = model(image)``.

    `backend`: ``auto`` | ``ort-cpu`` | ``ort-cuda`` | ``tensorrt``; `options` go to the backend
    (``threads=N`` for ONNX Runtime). The bundle's hashes are checked unless ``verify=False``.
    """
    bundle = open_bundle(path, verify=verify)
    _import_families()
    cls = FAMILIES.get(bundle.family)
    if cls is None:
        raise unknown_name("model family in bundle", bundle.family, FAMILIES)
    return cls(bundle, backend=backend, **options)
