"""What every runner is (Polygraphy's model: loaders and runners apart from the tools that use them).

A runner runs ONE graph of a bundle (a role) on one backend, numpy in, numpy out. It declares:

- ``name`` (``ort-cpu``, ``ort-cuda``, ``ort-trt``, ``tensorrt``), ``needs`` (what it takes, in words, for
  ``doctor`` and errors) and ``thread_policy`` (how concurrent ``run`` calls are handled; ``thread_doc``);
- ``probe()``: can it run on this machine at all (libraries, GPU, provider really loadable), and why not;
- ``supports(bundle, role)``: can it run this graph of this bundle (e.g. an engine for this GPU and
  TensorRT; no custom op it cannot load), and why not;
- a lifecycle: ``activate()`` acquires the session/engine/contexts, ``run(feeds)`` runs, ``deactivate()``
  releases; it is also a context manager. ``last_inference_time`` is the duration of the last ``run``.

Tools (``open_session``/``auto``, validation, ``doctor``, ``bench``) only talk to this interface.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import StyleForgeError


@dataclass(frozen=True)
class Verdict:
    """Yes or no, and why not (one line). Truthy when ``ok``."""

    ok: bool
    why: str = ""

    def __bool__(self) -> bool:
        return self.ok

    @classmethod
    def yes(cls, note: str = "") -> "Verdict":
        return cls(True, note)

    @classmethod
    def no(cls, why: str) -> "Verdict":
        return cls(False, why)


THREAD_POLICIES = {
    "shared": "one session shared by all threads; its run() is thread-safe (the library documents it)",
    "context-pool": "a pool of execution contexts, each with its own stream, buffers and optimisation profile; "
                    "a run checks one out, so up to N runs proceed at once and more threads wait",
    "serial": "one run at a time (a lock)",
}


class Runner:
    """Base class of every runner; subclasses set the class attributes and implement the ``_impl`` hooks."""

    name: ClassVar[str] = "base"
    needs: ClassVar[tuple[str, ...]] = ()
    thread_policy: ClassVar[str] = "serial"
    device: ClassVar[str] = "cpu"

    @classmethod
    def thread_doc(cls) -> str:
        return THREAD_POLICIES[cls.thread_policy]

    @classmethod
    def probe(cls) -> Verdict:
        """Whether this runner can work on this machine (no bundle needed)."""
        return Verdict.yes()

    @classmethod
    def supports(cls, bundle, role: str) -> Verdict:
        """Whether this runner can run graph `role` of `bundle` here (includes :meth:`probe`)."""
        return cls.probe()

    def __init__(self, bundle, role: str, **options):
        self.bundle = bundle
        self.role = role
        self.graph = bundle.graph(role)
        self.options = options
        self.is_active = False
        self._lifecycle_lock = threading.Lock()   # activate/deactivate happen once, whatever the threads
        self._serial_lock = threading.Lock()      # thread_policy "serial": one run at a time
        self.last_inference_time: float | None = None
        self.input_names = [t.name for t in self.graph.inputs]
        self.output_names = [t.name for t in self.graph.outputs]
        #: how this runner was chosen (set by open_session): a Selection, for -v and reports
        self.selection = None

    # --- lifecycle -------------------------------------------------------------------------------------
    def activate(self) -> "Runner":
        if not self.is_active:
            with self._lifecycle_lock:
                if not self.is_active:
                    self.activate_impl()
                    self.is_active = True
        return self

    def deactivate(self) -> None:
        if self.is_active:
            with self._lifecycle_lock:
                if self.is_active:
                    self.is_active = False
                    self.deactivate_impl()

    def __enter__(self) -> "Runner":
        return self.activate()

    def __exit__(self, *exc) -> None:
        self.deactivate()

    def activate_impl(self) -> None:
        pass

    def deactivate_impl(self) -> None:
        pass

    # --- inference ---------------------------------------------------------------------------------------
    def check_feeds(self, feeds: dict) -> dict:
        """The graph's inputs out of `feeds` (extra names are ignored, as every runner does); a missing one is an error."""
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise StyleForgeError(f"graph {self.role!r} needs input(s) {', '.join(missing)} "
                                  f"(it takes: {', '.join(self.input_names)})")
        return {n: feeds[n] for n in self.input_names}

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the graph on named numpy inputs; returns named numpy outputs (fresh arrays, the caller owns them)."""
        if not self.is_active:
            self.activate()
        feeds = self.check_feeds(feeds)
        t0 = time.perf_counter()
        if self.thread_policy == "serial":
            with self._serial_lock:
                out = self.run_impl(feeds)
        else:
            out = self.run_impl(feeds)
        self.last_inference_time = time.perf_counter() - t0
        return out

    def run_impl(self, feeds: dict) -> dict:
        raise NotImplementedError

    @property
    def providers(self) -> list[str]:
        """What actually runs the graph (ONNX Runtime's active providers; the runner's name otherwise)."""
        return [self.name]

    def describe(self) -> str:
        return f"{self.name} on {self.role!r} ({', '.join(self.providers)}; threads: {self.thread_policy})"

    def __del__(self):
        try:
            self.deactivate()
        except Exception:
            pass
