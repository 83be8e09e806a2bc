"""Scoring and timing ``tune``'s candidates: quality first (PSNR against the fp32 references), then latency in
one interleaved loop (every candidate once per round, so load on a shared machine hits all of them alike).

Quality of a candidate = the worst PSNR over (a) the bundle's golden cases against the fp32 PyTorch outputs stored
at export (validation's comparator, image outputs only) and (b) :func:`quality_cases` against the fp32 bundle on
ONNX Runtime CPU, uint8 pictures: the held-out photos (each the other's style, and styled by the bundled textures
where the interface takes a style) and the very inputs ``tune`` times, at each tuned size. The worst case is
named, so the record says where the floor was closest (:class:`~styleforge.runtime.manifest.TunedCandidate` ``.worst``).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...runtime.errors import StyleForgeError
from ...runtime.latency import psnr, timed_rounds

#: held out from int8 calibration (calibration uses the other two sample photos)
HELD_OUT = ("sample:chelsea", "sample:rocket")
CALIBRATION = ("sample:astronaut", "sample:coffee")
PHOTO_SIDE = 256
#: held-out styles beside the other photo, for interfaces that take a style (WCT, arbitrary-style): a colour
#: texture of flat cells and dark edges, colour bands, a grayscale texture (train/core/samples.py). None of them is
#: a calibration image. Why: a WCT int8 decoder at 40.4 dB on photo styles read 21-24 dB with the mosaic style
#: (docs/deploy.md, five-level WCT); the textures drive the colouring statistics far from what photos do.
HELD_OUT_STYLES = ("sample:mosaic", "sample:waves", "sample:brick")
#: the bench inputs are scored at each tuned size, scaled down to fit this side: one call per candidate and size,
#: like one timed run, but never more than a 1024² picture (larger sizes rarely differ in kind, and cost 4x+)
QUALITY_MAX_SIDE = 1024


@dataclass(frozen=True)
class QualityCase:
    """One input a candidate is scored on against the fp32 bundle: where it is (for the record) and how to run it
    (`run(model)` returns the interface's picture, H×W×3 uint8)."""

    where: str
    run: Callable


def _name(spec: str) -> str:
    return spec.removeprefix("sample:")


def photo_inputs(interface: str) -> list[tuple[str, tuple]]:
    """(where, call arguments) of the held-out photos: each photo alone, or, where the interface takes a style, each
    photo styled by the other and the :data:`HELD_OUT_STYLES` shared out between them (five pairs, all ≤
    :data:`PHOTO_SIDE`); [] when the interface takes no picture (a generator's latents)."""
    from ...runtime.interfaces import interface_spec
    from ...train.core.samples import resolve_image

    spec = interface_spec(interface)
    if spec.main_input != "image":
        return []
    photos = {p: resolve_image(p, max_side=PHOTO_SIDE) for p in HELD_OUT}

    def at(p):
        return f"at {photos[p].shape[0]}x{photos[p].shape[1]}"

    if not spec.takes_style:
        return [(f"held-out {_name(p)} {at(p)}", (photos[p],)) for p in HELD_OUT]
    pairs = [(HELD_OUT[0], HELD_OUT[1]), (HELD_OUT[1], HELD_OUT[0])]
    pairs += [(HELD_OUT[i % len(HELD_OUT)], s) for i, s in enumerate(HELD_OUT_STYLES)]
    styles = {**photos, **{s: resolve_image(s, max_side=PHOTO_SIDE) for s in HELD_OUT_STYLES}}
    return [(f"held-out {_name(c)} + {_name(s)} style {at(c)}", (photos[c], styles[s])) for c, s in pairs]


def quality_size(size) -> tuple[int, int]:
    """`size` scaled down to fit :data:`QUALITY_MAX_SIDE` (aspect kept), or `size` itself."""
    h, w = (int(v) for v in size)
    scale = min(1.0, QUALITY_MAX_SIDE / max(h, w))
    return (max(1, round(h * scale)), max(1, round(w * scale))) if scale < 1 else (h, w)


def bench_cases(manifest, sizes) -> list[QualityCase]:
    """The inputs ``tune`` times (runtime/latency.py ``bench_case_inputs``: the bench picture, with the mosaic style
    for a style interface) at each tuned size (:func:`quality_size`; repeated sizes once), run as they are timed."""
    from ...runtime.interfaces import interface_spec
    from ...runtime.latency import bench_case_inputs

    interface = manifest.model.interface
    spec = interface_spec(interface)
    what = ("bench picture + mosaic style" if spec.takes_style else "bench picture") if spec.main_input == "image" \
        else "bench latent (seed 0)"
    out, seen = [], set()
    for size in sizes:
        sz = quality_size(spec.bench_size(manifest, tuple(size)))
        if sz in seen:
            continue
        seen.add(sz)
        inputs = bench_case_inputs(interface, sz)
        out.append(QualityCase(f"{what} at {sz[0]}x{sz[1]}", lambda m, i=inputs: spec.bench_call(m, i)()))
    return out


def quality_cases(manifest, sizes) -> list[QualityCase]:
    """Every picture a candidate is scored on beside the golden cases: :func:`photo_inputs` then :func:`bench_cases`.
    Cost: five ≤ 256-px calls (two without a style) plus one per tuned size, per candidate."""
    held = [QualityCase(where, lambda m, a=args: m(*a)) for where, args in photo_inputs(manifest.model.interface)]
    return held + bench_cases(manifest, sizes)


def golden_psnr(path, runner: str, options: dict) -> tuple[float, str]:
    """(worst PSNR, where) over the golden cases' image outputs (validation on `runner`); (inf, "") without any."""
    from ...runtime.validation import validate_bundle

    report = validate_bundle(path, backend=runner, **options)
    if report.get("error"):
        raise StyleForgeError(report["error"])
    from ...runtime.bundle import open_bundle

    bundle = open_bundle(path)
    vals = []
    for case in report["cases"]:
        if case.get("error"):
            raise StyleForgeError(case["error"])
        graph = bundle.graph(case["graph"])
        vals += [(o["psnr"], f"golden case {case['case']} ({o['output']})") for o in case["outputs"]
                 if _is_image(graph.output(o["output"]))]
    return min(vals, key=lambda v: v[0]) if vals else (float("inf"), "")


def _is_image(spec) -> bool:
    """An output with a value range is an image (statistics and activations have none)."""
    return spec is not None and bool(spec.range)


def _psnr(a: np.ndarray, ref: np.ndarray, where: str) -> float:
    """runtime.latency.psnr, with a clear error where the candidate's picture has another shape than the fp32 one."""
    value = psnr(a, ref)
    if value is None:
        raise StyleForgeError(f"{where}: output {a.shape} differs from the fp32 bundle's {ref.shape}")
    return value


def cases_psnr(model, cases: list[QualityCase], refs: list[np.ndarray]) -> tuple[float, str]:
    """(worst PSNR, where) of `model` over `cases` against their fp32 outputs `refs`; (inf, "") when there are none."""
    vals = [(_psnr(np.asarray(c.run(model)), r, c.where), c.where) for c, r in zip(cases, refs)]
    return min(vals, key=lambda v: v[0]) if vals else (float("inf"), "")


def timed_call(model, interface: str, size: tuple[int, int]):
    """A no-argument callable running one picture of `size` through `model`: the interface's own bench call (style
    statistics cached for WCT), on the inputs `styleforge bench` gives every contender."""
    from ...runtime.interfaces import interface_spec
    from ...runtime.latency import bench_case_inputs

    return interface_spec(interface).bench_call(model, bench_case_inputs(interface, size))


def interleaved_medians(calls: dict, runs: int, warmup: int, deadline: float, progress=None) -> dict:
    """{key: median seconds} of `calls` ({key: callable}) over `runs` interleaved rounds after `warmup` untimed ones
    (runtime.latency.timed_rounds); stops early at `deadline` (time.monotonic()) keeping the rounds done."""
    for _ in range(warmup):
        for f in calls.values():
            f()
    times = timed_rounds(calls, runs, deadline=deadline, progress=progress)
    return {k: statistics.median(v) for k, v in times.items() if v}
