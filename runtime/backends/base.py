"""What every runner is (Polygraphy's shape: loaders build sessions, runners run them, tools only use runners).

A **loader** builds the thing that runs one graph (role) of a bundle: an ONNX Runtime ``InferenceSession``
(runtime/backends/ort.py ``OrtSessionLoader``), a deserialised TensorRT engine (tensorrt.py
``TrtEngineLoader``), a PyTorch module (export/core/torch_backend.py ``TorchModuleLoader``). It is a callable
with no arguments, so a test or an embedding app can hand a runner its own (``runner_class(n)(bundle, role,
loader=...)``). A **runner** takes a loader and runs, numpy in, numpy out. It declares:

- ``name`` (``ort-cpu``, ``ort-cuda``, ``ort-trt``, ``tensorrt``, ``torch-eager``, ``torch-cuda`` …), ``needs``
  (what it takes, in words, for ``doctor`` and errors), ``thread_policy`` (how concurrent ``run`` calls are
  handled; ``thread_doc``), ``auto_rank`` (its place in ``auto``, lower first; None: only by name) and
  ``reference`` (True: it runs the source model, not the bundle's graphs; ``bench`` runs it once, on the
  first bundle);
- ``probe()``: can it run on this machine at all (libraries, GPU, provider really loadable), and why not;
- ``supports(bundle, role, **options)``: can it run this graph of this bundle, and why not (one line). The base
  class answers it the same way for every runner: ``probe()`` first, then (``refuses_plugin_graphs``) no for a
  TensorRT plugin graph, then the runner's hook ``_supports(bundle, role, options)``, which returns a no, a yes
  with its own note, or None (the probe's yes stands). A runner overrides ``probe`` and ``_supports``, never
  ``supports``.

Lifecycle (strict): ``activate()`` calls the loader and acquires the session/engine/contexts; ``run(feeds)``
runs (any number of times, from any threads as ``thread_policy`` says); ``deactivate()`` releases. A second
``activate()`` (or ``deactivate()``) is a no-op, so several owners may call it. ``run`` on a runner never
activated activates it first (the convenience every caller of ``open_session`` had); ``run`` after
``deactivate()`` is a StyleForgeError (a released runner does not silently re-acquire a GPU: call
``activate()`` again). A runner is also a context manager. ``infer(feeds)`` is ``run`` returning a typed
:class:`RunResult` (outputs, seconds, runner, role, how it was chosen).

Threads: ``shared`` runners hand every thread the same session (its run is documented thread-safe),
``context-pool`` ones check a context out per run, ``serial`` ones take a lock; activate/deactivate take the
runner's lifecycle lock, so two threads never load the same graph twice.

A new runner is one module in this package: a ``Runner`` subclass decorated with ``@register_runner``
(runtime/backends/__init__.py finds the modules by scanning the package, runtime/discovery.py). A runner whose
code lives outside the runtime (it needs torch) registers lazily by module path (``register_lazy``).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, ClassVar

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


def plugin_roles(manifest) -> list[str]:
    """Graph roles holding TensorRT plugin nodes (only TensorRT runners load them)."""
    return list(getattr(manifest.model.config, "plugin_graphs", None) or [])


def plugin_refusal(bundle, role: str) -> Verdict | None:
    """The no of a runner that cannot load TensorRT plugins, for a plugin graph (None for any other graph)."""
    if role in plugin_roles(bundle.manifest):
        return Verdict.no(f"graph {role!r} holds the TensorRT plugin node styleforge::WhitenColor, which only the "
                          "tensorrt runner loads")
    return None


THREAD_POLICIES = {
    "shared": "one session shared by all threads; its run() is thread-safe (the library documents it)",
    "context-pool": "a pool of execution contexts, each with its own stream, buffers and optimisation profile; "
                    "a run checks one out, so up to N runs proceed at once and more threads wait",
    "serial": "one run at a time (a lock)",
}

#: a loader: called once by ``activate()``, returns what the runner runs (session, engine, module)
Loader = Callable[[], object]


@dataclass
class RunResult:
    """One run of one graph: its outputs, how long the run took, which runner ran it and how it was chosen."""

    outputs: dict[str, np.ndarray]
    seconds: float | None
    runner: str
    role: str
    providers: list[str] = field(default_factory=list)
    selection: object = None     # the Selection that picked the runner (None when built directly)

    def to_dict(self) -> dict:
        """The JSON-able part (no arrays): for reports."""
        return {"runner": self.runner, "role": self.role, "seconds": self.seconds, "providers": list(self.providers),
                "selection": self.selection.to_dict() if self.selection is not None else None}


class Runner:
    """Base class of every runner; subclasses set the class attributes and implement the ``_impl`` hooks."""

    name: ClassVar[str] = "base"
    needs: ClassVar[tuple[str, ...]] = ()
    thread_policy: ClassVar[str] = "serial"
    device: ClassVar[str] = "cpu"
    #: place in ``auto`` (lower is tried first); None: used only when named
    auto_rank: ClassVar[int | None] = None
    #: runs the source model rather than the bundle's graphs (``bench`` runs it on the first bundle only)
    reference: ClassVar[bool] = False
    #: the precision it computes in whatever the bundle's is (None: the bundle's)
    precision: ClassVar[str | None] = None
    #: runs the graph's ONNX bytes with a library that cannot load TensorRT plugin nodes: ``supports`` says no for
    #: a bundle's plugin graphs (``plugin_graphs`` of its config) before asking :meth:`_supports`
    refuses_plugin_graphs: ClassVar[bool] = False

    @classmethod
    def thread_doc(cls) -> str:
        return THREAD_POLICIES[cls.thread_policy]

    @classmethod
    def probe(cls) -> Verdict:
        """Whether this runner can work on this machine (no bundle needed)."""
        return Verdict.yes()

    @classmethod
    def supports(cls, bundle, role: str, **options) -> Verdict:
        """Whether this runner can run graph `role` of `bundle` here, built with `options`. The same steps for every
        runner (do not override): :meth:`probe` (its no is the answer), the TensorRT plugin graphs a runner with
        ``refuses_plugin_graphs`` cannot load, then the runner's own :meth:`_supports`; the probe's yes otherwise."""
        probed = cls.probe()
        if not probed:
            return probed
        refusal = plugin_refusal(bundle, role) if cls.refuses_plugin_graphs else None
        if refusal is not None:
            return refusal
        own = cls._supports(bundle, role, options)
        return probed if own is None else own

    @classmethod
    def _supports(cls, bundle, role: str, options: dict) -> Verdict | None:
        """The runner's own check of one graph, once :meth:`probe` said yes: a no with its reason, a yes with its
        own note, or None (nothing against it: the probe's yes stands). `options`: those the runner would be built
        with (some decide, e.g. the tensorrt runner's ``allow_engine_host_code``)."""
        return None

    @classmethod
    def supports_with(cls, bundle, role: str, options: dict) -> Verdict:
        """:meth:`supports` with the options as a dict (as ``select_runner`` and ``open_session`` hold them)."""
        return cls.supports(bundle, role, **options)

    def __init__(self, bundle, role: str, *, loader: Loader | None = None, **options):
        self.bundle = bundle
        self.role = role
        self.graph = bundle.graph(role)
        self.options = options
        self.is_active = False
        self.was_deactivated = False
        #: builds what this runner runs (called by activate); subclasses make theirs from bundle, role, options
        self.loader: Loader | None = loader
        self._lifecycle_lock = threading.Lock()   # activate/deactivate happen once, whatever the threads
        self._serial_lock = threading.Lock()      # thread_policy "serial": one run at a time
        self.last_inference_time: float | None = None
        self.input_names = [t.name for t in self.graph.inputs]
        self.output_names = [t.name for t in self.graph.outputs]
        #: how this runner was chosen (set by open_session): a Selection, for -v and reports
        self.selection = None

    # --- lifecycle -------------------------------------------------------------------------------------
    def activate(self) -> "Runner":
        """Load (through ``self.loader``) and acquire; a second call is a no-op."""
        if not self.is_active:
            with self._lifecycle_lock:
                if not self.is_active:
                    self.activate_impl()
                    self.is_active = True
                    self.was_deactivated = False
        return self

    def ensure_active(self) -> None:
        """Activate a runner never activated; refuse one that was deactivated (see the module docstring)."""
        if not self.is_active:
            if self.was_deactivated:
                raise StyleForgeError(f"runner {self.name} for graph {self.role!r} was deactivated; call activate() "
                                      "before running it again")
            self.activate()

    def load(self):
        """What the loader builds (the session, engine or module)."""
        if self.loader is None:
            raise StyleForgeError(f"runner {self.name} has no loader")
        return self.loader()

    def deactivate(self) -> None:
        if self.is_active:
            with self._lifecycle_lock:
                if self.is_active:
                    self.is_active = False
                    self.was_deactivated = True
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
        self.ensure_active()
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

    def infer(self, feeds: dict[str, np.ndarray]) -> RunResult:
        """``run`` with a typed result (outputs, seconds, runner, role, providers, selection)."""
        outputs = self.run(feeds)
        return RunResult(outputs, self.last_inference_time, self.name, self.role, list(self.providers), self.selection)

    def notes(self) -> dict:
        """What a report should say about how this runner ran (e.g. nodes ONNX Runtime placed on the CPU)."""
        return {}

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
