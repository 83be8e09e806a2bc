"""Backends run one ONNX graph (or its engine) on numpy arrays. Chosen by name: ``ort-cpu``,
``ort-cuda``, ``tensorrt``, or ``auto`` (the fastest one available here)."""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from ..errors import StyleForgeError, unknown_name


class Session(Protocol):
    """A loaded graph: named numpy inputs in, named numpy outputs out."""

    input_names: list[str]
    output_names: list[str]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


#: name -> factory(bundle, graph_entry, **options) -> Session
BACKENDS: dict[str, Callable] = {}


def register_backend(name: str):
    def deco(factory):
        BACKENDS[name] = factory
        return factory
    return deco


def available_backends() -> list[str]:
    from . import ort, tensorrt  # noqa: F401  (register ort-cpu / ort-cuda / tensorrt; imports stay lazy)
    return [n for n, f in BACKENDS.items() if getattr(f, "available", lambda: True)()]


def resolve_backend(name: str) -> str:
    """Map ``auto`` to the best available backend; refuse unknown or unavailable names clearly."""
    avail = available_backends()
    if name == "auto":
        for pref in ("tensorrt", "ort-cuda", "ort-cpu"):
            if pref in avail:
                return pref
    if name not in BACKENDS:
        raise unknown_name("backend", name, list(BACKENDS) + ["auto"])
    if name not in avail:
        raise StyleForgeError(f"backend {name!r} is not available on this machine (available: {', '.join(avail)})")
    return name


def open_session(bundle, role: str, backend: str = "auto", **options) -> Session:
    name = resolve_backend(backend)
    return BACKENDS[name](bundle, bundle.graph(role), **options)
