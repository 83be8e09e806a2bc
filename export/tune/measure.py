"""Scoring and timing ``tune``'s candidates: quality first (PSNR against the fp32 references), then latency in
one interleaved loop (every candidate once per round, so load on a shared machine hits all of them alike).

Quality of a candidate = the worst PSNR over (a) the bundle's golden cases against the fp32 PyTorch outputs stored
at export (validation's comparator, image outputs only) and (b) held-out photos against the fp32 bundle on ONNX
Runtime CPU (the interface's ``model(image)``, uint8 pictures; a generator has no photos).
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from ...runtime.errors import StyleForgeError

#: held out from int8 calibration (calibration uses the other two sample photos)
HELD_OUT = ("sample:chelsea", "sample:rocket")
CALIBRATION = ("sample:astronaut", "sample:coffee")
PHOTO_SIDE = 256


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(d * d))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def photo_inputs(interface: str) -> list[tuple]:
    """Call arguments for the held-out photos (content, and a style photo where the interface takes one), or [] when
    the interface takes no picture (a generator's latents)."""
    from ...runtime.interfaces import interface_spec
    from ...train.core.samples import resolve_image

    spec = interface_spec(interface)
    if spec.main_input != "image":
        return []
    photos = [resolve_image(p, max_side=PHOTO_SIDE) for p in HELD_OUT]
    if spec.takes_style:
        return [(photos[0], photos[1]), (photos[1], photos[0])]
    return [(p,) for p in photos]


def golden_psnr(path, runner: str, options: dict) -> float:
    """Worst PSNR over the golden cases' image outputs (validation on `runner`)."""
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
        vals += [o["psnr"] for o in case["outputs"] if _is_image(graph.output(o["output"]))]
    return min(vals) if vals else float("inf")


def _is_image(spec) -> bool:
    """An output with a value range is an image (statistics and activations have none)."""
    return spec is not None and bool(spec.range)


def photo_psnr(model, refs: list[np.ndarray], args: list[tuple]) -> float:
    return min((psnr_u8(model(*a), r) for a, r in zip(args, refs)), default=float("inf"))


def timed_call(model, interface: str, size: tuple[int, int]):
    """A no-argument callable running one picture of `size` through `model`: the interface's own bench call (style
    statistics cached for WCT), on the inputs `styleforge bench` gives every contender."""
    from ...runtime.interfaces import interface_spec
    from ...runtime.latency import bench_case_inputs

    return interface_spec(interface).bench_call(model, bench_case_inputs(interface, size))


def interleaved_medians(calls: dict, runs: int, warmup: int, deadline: float, progress=None) -> dict:
    """{key: median seconds} of `calls` ({key: callable}), run round-robin `runs` times after `warmup` rounds (each
    timed call right after an untimed one of the same key);
    stops early at `deadline` (time.monotonic()) keeping the rounds done (a key with no timed run is left out)."""
    for _ in range(warmup):
        for f in calls.values():
            f()
    times: dict = {k: [] for k in calls}
    t0 = time.monotonic()
    for i in range(runs):
        if time.monotonic() > deadline and i > 0:
            break
        for k, f in calls.items():
            f()  # untimed: the previous candidate's idle threads (spinning pools) settle on someone else's time
            s = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - s)
        if progress is not None:
            per = (time.monotonic() - t0) / (i + 1)
            progress(f"timing round {i + 1}/{runs}, ETA {per * (runs - i - 1):.0f} s")
    return {k: statistics.median(v) for k, v in times.items() if v}
