"""Runners run one graph of a bundle (see base.py): ``ort-cpu``, ``ort-cuda``, ``ort-trt`` (ONNX Runtime's
TensorRT provider) and ``tensorrt`` (an engine built by ``styleforge engine build``), or ``auto``: the first
of :data:`AUTO_ORDER` whose ``supports(bundle, role)`` says yes, with the reasons the others said no kept in
the runner's ``selection`` (printed by ``-v``, stored in validation reports).

Entry points kept for callers: ``open_session(bundle, role, backend, **options)`` (an active runner) and
``available_backends()`` (runners whose ``probe()`` passes here). A runner named explicitly that cannot run
is an error naming what is missing; ``auto`` skips to the next runner and says so.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..errors import StyleForgeError, unknown_name
from .base import Runner, Verdict

log = logging.getLogger("styleforge.runtime.backends")

#: What ``auto`` tries, best first. ``ort-trt`` is opt-in: it compiles TensorRT engines inside ONNX Runtime
#: on first use (minutes) — build engines ahead with ``styleforge engine build`` and ``auto`` uses them.
#: ``openvino`` comes after ``ort-cpu``: on fp32 graphs it measured no faster here (docs/deploy.md "OpenVINO"); a
#: bundle's ``tuning`` record (``styleforge tune``) names the runner measured fastest on its host instead.
AUTO_ORDER = ("tensorrt", "ort-cuda", "ort-cpu", "openvino")


class Session(Protocol):
    """A loaded graph: named numpy inputs in, named numpy outputs out (every Runner is one)."""

    input_names: list[str]
    output_names: list[str]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


#: name -> Runner subclass
RUNNERS: dict[str, type[Runner]] = {}


def register_runner(cls: type[Runner]) -> type[Runner]:
    RUNNERS[cls.name] = cls
    return cls


def runners() -> dict[str, type[Runner]]:
    """Every runner class by name (imports the runner modules; they import their libraries lazily)."""
    from . import openvino, ort, tensorrt  # noqa: F401  (register themselves)

    return RUNNERS


@dataclass
class Selection:
    """How a runner was chosen: what was asked, what runs, and why the runners before it were skipped."""

    requested: str
    chosen: str
    role: str
    skipped: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        text = f"graph {self.role!r}: runner {self.chosen}"
        if self.requested == "auto":
            text += " (auto"
            text += "; skipped " + "; ".join(f"{k}: {v}" for k, v in self.skipped.items()) if self.skipped else ""
            text += ")"
        return text

    def to_dict(self) -> dict:
        return {"requested": self.requested, "chosen": self.chosen, "role": self.role, "skipped": dict(self.skipped)}


def available_backends() -> list[str]:
    """Names of the runners that can work on this machine (their ``probe()`` passes)."""
    return [n for n, cls in runners().items() if cls.probe()]


def runner_class(name: str) -> type[Runner]:
    table = runners()
    if name not in table:
        raise unknown_name("backend", name, list(table) + ["auto"])
    return table[name]


def resolve_backend(name: str, bundle=None, role: str | None = None) -> str:
    """The runner `name` stands for: ``auto`` → the best one that supports this bundle's graph (or, without a
    bundle, the best available here); a named one must exist and be usable here, else a clear error."""
    if name == "auto":
        for cand in AUTO_ORDER:
            cls = runner_class(cand)
            if (cls.supports(bundle, role) if bundle is not None else cls.probe()):
                return cand
        raise StyleForgeError("no runner can run this graph here")
    cls = runner_class(name)
    verdict = cls.supports(bundle, role) if bundle is not None else cls.probe()
    if not verdict:
        raise StyleForgeError(f"backend {name!r} is not available here: {verdict.why}")
    return name


def open_session(bundle, role: str, backend: str = "auto", **options) -> Runner:
    """An active runner for graph `role` of `bundle`. `backend`: a runner name or ``auto``; `options` go to
    the runner (``threads=N`` for ONNX Runtime; ``device_id``, ``cuda_graph``, ``cache_dir`` … for GPU runners).

    ``auto`` tries :data:`AUTO_ORDER`: a runner whose ``supports`` says no is skipped with its reason; one that
    says yes but then fails to start is skipped with a warning (never silently). A named runner that cannot
    run here raises StyleForgeError naming what is missing.
    """
    bundle.graph(role)  # a clear error for a role the bundle lacks
    if backend != "auto":
        cls = runner_class(backend)
        verdict = cls.supports(bundle, role)
        if not verdict:
            raise StyleForgeError(f"backend {backend!r} cannot run graph {role!r} here: {verdict.why}")
        runner = cls(bundle, role, **options).activate()
        runner.selection = Selection(backend, backend, role)
        log.info("%s", runner.selection.describe())
        return runner
    from ..tuning import open_tuned

    tuned, why = open_tuned(bundle, role, options)  # a `styleforge tune` record measured on this host wins
    if tuned is not None:
        log.info("%s", tuned.selection.describe())
        return tuned
    skipped: dict[str, str] = {} if bundle.manifest.tuning is None else {"tuning": why}
    for cand in AUTO_ORDER:
        cls = runner_class(cand)
        verdict = cls.supports(bundle, role)
        if not verdict:
            skipped[cand] = verdict.why
            continue
        try:
            runner = cls(bundle, role, **options).activate()
        except StyleForgeError as e:
            skipped[cand] = f"failed to start: {e}"
            log.warning("runner %s could not start for graph %r (%s); trying the next one", cand, role, e)
            continue
        runner.selection = Selection("auto", cand, role, skipped)
        log.info("%s", runner.selection.describe())
        return runner
    raise StyleForgeError(f"no runner can run graph {role!r} here: "
                          + "; ".join(f"{k}: {v}" for k, v in skipped.items()))


def plugin_roles(manifest) -> list[str]:
    """Graph roles holding TensorRT plugin nodes (only TensorRT runners load them)."""
    return list(getattr(manifest.model.config, "plugin_graphs", None) or [])


__all__ = ["AUTO_ORDER", "RUNNERS", "Runner", "Selection", "Session", "Verdict", "available_backends", "open_session",
           "plugin_roles", "register_runner", "resolve_backend", "runner_class", "runners"]
