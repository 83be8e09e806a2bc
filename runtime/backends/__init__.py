"""Runners run one graph of a bundle (see base.py for the lifecycle): ``ort-cpu``, ``ort-cuda``, ``ort-trt``
(ONNX Runtime's TensorRT provider), ``tensorrt`` (an engine built by ``styleforge engine build``),
``torch-eager`` / ``torch-cuda`` (the bundle's source PyTorch model; registered lazily, they need torch and
``styleforge[train]``), or ``auto``: the runners with an ``auto_rank``, best first (:func:`auto_order`).

One selection function, :func:`select_runner`, decides for everyone (``open_session``, ``resolve_backend``,
validation, ``doctor``, ``bench``): it returns a :class:`Selection` (what was asked, the runners that can
run the graph in order, why the others cannot). A runner named explicitly that cannot run is an error naming
what is missing; ``auto`` skips to the next runner and says so.

Registration: every module of this package is imported once by :func:`runners` (a package scan,
runtime/discovery.py); a module registers its runner classes with ``@register_runner``. A runner whose code
must not be imported by the runtime (torch) registers with :func:`register_lazy` by module path.
"""
from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..errors import StyleForgeError, unknown_name
from .base import Runner, RunResult, Verdict, plugin_refusal, plugin_roles

log = logging.getLogger("styleforge.runtime.backends")


class Session(Protocol):
    """A loaded graph: named numpy inputs in, named numpy outputs out (every Runner is one)."""

    input_names: list[str]
    output_names: list[str]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


#: name -> Runner subclass, for the runners of this package
RUNNERS: dict[str, type[Runner]] = {}
#: name -> Runner subclass for runners registered by module path (a stand-in until the real class is loaded)
LAZY_RUNNERS: dict[str, type[Runner]] = {}
_SCANNED = False


def register_runner(cls: type[Runner]) -> type[Runner]:
    """Class decorator: make `cls` known by ``cls.name``."""
    RUNNERS[cls.name] = cls
    return cls


def _importable(module: str) -> bool:
    """Whether `module` could be imported, without importing it (a module blocked in sys.modules counts as not)."""
    import importlib.util

    parts = module.split(".")
    if any(".".join(parts[:i]) in sys.modules and sys.modules[".".join(parts[:i])] is None
           for i in range(1, len(parts) + 1)):
        return False
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def register_lazy(name: str, target: str, *, requires: tuple[str, ...], need: str,
                  device: str = "cpu", reference: bool = False, precision: str | None = None) -> None:
    """Register runner `name` implemented by ``"package.module:Class"`` (imported only when the runner is used).
    `requires`: top-level modules it needs; while one is missing, its probe/supports say `need`."""

    class LazyRunner(Runner):
        __doc__ = f"{name}: implemented by {target} (loaded on first use)"
        needs = (need,)
        thread_policy = "serial"

        @classmethod
        def missing(cls) -> list[str]:
            return [m for m in requires if not _importable(m)]

        @classmethod
        def real(cls) -> type[Runner]:
            mod, _, attr = target.partition(":")
            real = getattr(importlib.import_module(mod), attr)
            LAZY_RUNNERS[name] = real
            return real

        @classmethod
        def probe(cls) -> Verdict:
            miss = cls.missing()
            if miss:
                return Verdict.no(f"needs {need} ({', '.join(miss)} not importable)")
            if all(sys.modules.get(m) is not None for m in requires):  # already loaded: ask the real runner
                return cls.real().probe()
            return Verdict.yes(f"{', '.join(requires)} importable (not loaded yet)")

        @classmethod
        def _supports(cls, bundle, role: str, options: dict) -> Verdict:
            try:
                return cls.real().supports_with(bundle, role, options)
            except ImportError as e:
                return Verdict.no(f"needs {need} ({e})")

        def __new__(cls, *a, **k):
            return cls.real()(*a, **k)

    LazyRunner.name, LazyRunner.device, LazyRunner.reference, LazyRunner.precision = name, device, reference, precision
    LazyRunner.lazy_target = target
    LAZY_RUNNERS.setdefault(name, LazyRunner)


def runners() -> dict[str, type[Runner]]:
    """Every runner class by name: the modules of this package, imported once (they register themselves and
    import their libraries lazily)."""
    global _SCANNED
    if not _SCANNED:
        from ..discovery import import_children

        import_children(__name__)
        _SCANNED = True
    return {**RUNNERS, **{n: c for n, c in LAZY_RUNNERS.items() if n not in RUNNERS}}


def runner_class(name: str) -> type[Runner]:
    table = runners()
    if name not in table:
        raise unknown_name("backend", name, list(table) + ["auto"])
    return table[name]


def auto_order() -> list[str]:
    """The runners ``auto`` tries, best first (those with an ``auto_rank``)."""
    ranked = [(cls.auto_rank, n) for n, cls in runners().items() if cls.auto_rank is not None]
    return [n for _, n in sorted(ranked)]


def __getattr__(name):  # AUTO_ORDER: computed, since runner modules may be added
    if name == "AUTO_ORDER":
        return tuple(auto_order())
    raise AttributeError(name)


@dataclass
class Selection:
    """How a runner was (or would be) chosen for one graph: what was asked, what runs, which runners could run
    it (best first), and why the others were skipped."""

    requested: str
    chosen: str | None
    role: str | None
    skipped: dict[str, str] = field(default_factory=dict)
    candidates: list[str] = field(default_factory=list)
    #: a bundle's tuning record (runtime/tuning.py): its runner options when it chose, and what it said
    options: dict = field(default_factory=dict)
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.chosen is not None

    def why_not(self) -> str:
        """One line: why nothing can run (for errors)."""
        reasons = "; ".join(f"{k}: {v}" for k, v in self.skipped.items())
        if self.role is None:
            if self.requested != "auto":
                return f"backend {self.requested!r} is not available here: {self.skipped.get(self.requested, '?')}"
            return f"no runner is available here: {reasons}"
        if self.requested != "auto":
            return f"backend {self.requested!r} cannot run graph {self.role!r} here: {self.skipped.get(self.requested, '?')}"
        return f"no runner can run graph {self.role!r} here: {reasons}"

    def describe(self) -> str:
        text = f"graph {self.role!r}: runner {self.chosen}"
        if self.requested == "auto":
            text += " (auto"
            text += "; skipped " + "; ".join(f"{k}: {v}" for k, v in self.skipped.items()) if self.skipped else ""
            text += f"; {self.note}" if self.note else ""
            text += ")"
        return text

    def to_dict(self) -> dict:
        return {"requested": self.requested, "chosen": self.chosen, "role": self.role, "skipped": dict(self.skipped),
                **({"tuning": self.note} if self.note else {})}


def select_runner(backend: str, bundle=None, role: str | None = None, *, every: bool = False,
                  options: dict | None = None) -> Selection:
    """THE selection: which runner(s) can run graph `role` of `bundle` (without a bundle: which can work on this
    machine). `backend`: a runner name or ``auto`` (tries :func:`auto_order`, stopping at the first that says
    yes unless `every`); `options`: those the runner would get (some decide, e.g. ``allow_engine_host_code``).
    Never raises for a runner that says no: the reason is in ``skipped``; an unknown
    name is a StyleForgeError."""
    names = auto_order() if backend == "auto" else [runner_class(backend).name]
    sel = Selection(backend, None, role)
    if backend == "auto" and bundle is not None:  # a `styleforge tune` record measured on this host goes first
        from ..tuning import tuned_order

        names, sel.options, sel.note = tuned_order(bundle, names)
    for name in names:
        cls = runner_class(name)
        verdict = cls.supports_with(bundle, role, options or {}) if bundle is not None else cls.probe()
        if not verdict:
            sel.skipped[name] = verdict.why
            continue
        sel.candidates.append(name)
        if sel.chosen is None:
            sel.chosen = name
        if not every:
            break
    if sel.options and sel.chosen != names[0]:  # the tuned runner cannot run this graph here: auto's own rule
        sel.options, sel.note = {}, f"tuning record not used: {names[0]}: {sel.skipped.get(names[0], 'unavailable')}"
    return sel


def available_backends() -> list[str]:
    """Names of the runners that can work on this machine (their ``probe()`` passes)."""
    return [n for n, cls in runners().items() if cls.probe()]


def resolve_backend(name: str, bundle=None, role: str | None = None) -> str:
    """The runner `name` stands for (:func:`select_runner`); a clear error when none can run."""
    sel = select_runner(name, bundle, role)
    if not sel.ok:
        raise StyleForgeError(sel.why_not())
    return sel.chosen


def open_session(bundle, role: str, backend: str = "auto", *, selection: Selection | None = None, **options) -> Runner:
    """An active runner for graph `role` of `bundle`. `backend`: a runner name or ``auto``; `options` go to the
    runner (``threads=N``, ``mem_arena``, ``spinning`` for ONNX Runtime; ``device_id``, ``cuda_graph``,
    ``cache_dir``, ``allow_engine_host_code`` … for GPU runners). `selection`: one already made by
    :func:`select_runner` (not repeated).

    ``auto``: a runner whose ``supports`` says no is skipped with its reason; one that says yes but then fails
    to start is skipped with a warning (never silently). A named runner that cannot run here raises
    StyleForgeError naming what is missing.
    """
    bundle.graph(role)  # a clear error for a role the bundle lacks
    sel = selection or select_runner(backend, bundle, role, options=options)
    skipped = dict(sel.skipped)
    queue = [sel.chosen] if sel.chosen else []
    if backend == "auto" and sel.chosen in auto_order() and not sel.options:
        queue = auto_order()[auto_order().index(sel.chosen):]
    for name in queue:
        if name != sel.chosen:  # the next ones under auto, asked only if the first failed to start
            verdict = runner_class(name).supports_with(bundle, role, options)
            if not verdict:
                skipped[name] = verdict.why
                continue
        tuned = {**sel.options, **{k: v for k, v in options.items() if v is not None}} if name == sel.chosen else options
        try:
            runner = runner_class(name)(bundle, role, **(tuned if sel.options else options)).activate()
        except StyleForgeError as e:
            if backend != "auto":
                raise
            skipped[name] = f"failed to start: {e}"
            log.warning("runner %s could not start for graph %r (%s); trying the next one", name, role, e)
            continue
        runner.selection = Selection(backend, name, role, skipped, [name], dict(sel.options) if name == sel.chosen else {},
                                     sel.note)
        log.info("%s", runner.selection.describe())
        return runner
    raise StyleForgeError(Selection(backend, None, role, skipped).why_not())


__all__ = ["LAZY_RUNNERS", "RUNNERS", "RunResult", "Runner", "Selection", "Session", "Verdict", "auto_order", "available_backends",
           "open_session", "plugin_refusal", "plugin_roles", "register_lazy", "register_runner", "resolve_backend", "runner_class",
           "runners", "select_runner"]
