"""Latency of a bundle on a runtime backend (numpy + onnxruntime only; never torch).

``bench_runtime(bundle, sizes=[(256, 256)], batch=1)`` times the raw ``stylize`` graph (the
same tensor the PyTorch eager side gets, see ``styleforge.export.benchmark``) and returns
median / p90 / p99 latency and images per second for each size.
"""
from __future__ import annotations

import time

import numpy as np

from .errors import StyleForgeError


def parse_sizes(text) -> list[tuple[int, int]]:
    """'256,512' or '256x384,512' → [(256, 256), (256, 384), (512, 512)]."""
    if isinstance(text, (list, tuple)):
        return [(int(s), int(s)) if np.ndim(s) == 0 else (int(s[0]), int(s[1])) for s in text]
    out = []
    for item in str(text).split(","):
        item = item.strip().lower()
        if not item:
            continue
        try:
            h, w = item.split("x") if "x" in item else (item, item)
            h, w = int(h), int(w)
        except ValueError:
            raise StyleForgeError(f"bad size {item!r} in --sizes; expected e.g. 256,512 or 256x384") from None
        if h < 8 or w < 8:
            raise StyleForgeError(f"--sizes: {item} is too small (at least 8)")
        out.append((h, w))
    if not out:
        raise StyleForgeError("--sizes: no sizes given")
    return out


def latency_stats(seconds: list[float], batch: int) -> dict:
    """Summary of per-run latencies (milliseconds) and throughput (images/s, from the median)."""
    a = np.asarray(seconds, dtype=np.float64) * 1000.0
    median = float(np.median(a))
    return {"runs": int(a.size), "median_ms": median, "p90_ms": float(np.percentile(a, 90)),
            "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean()), "min_ms": float(a.min()),
            "images_per_s": batch * 1000.0 / median if median > 0 else float("inf")}


def time_fn(fn, runs: int, warmup: int) -> list[float]:
    for _ in range(max(0, warmup)):
        fn()
    out = []
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def bench_inputs(size: tuple[int, int], batch: int, num_styles: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """The feeds both sides get: a random image batch (padded to a multiple of 4) and style indices."""
    h, w = size
    h, w = h + (-h) % 4, w + (-w) % 4
    rng = np.random.default_rng(seed)
    feeds = {"image": rng.uniform(0, 255, (batch, 3, h, w)).astype(np.float32)}
    feeds["style_index"] = (np.arange(batch) % max(1, num_styles)).astype(np.int64)
    return feeds


def bench_runtime(bundle, sizes, *, batch: int = 1, runs: int = 20, warmup: int = 3, backend: str = "ort-cpu",
                  threads: int | None = None) -> list[dict]:
    """Time the bundle's ``stylize`` graph on `backend`; one result dict per size."""
    from .model import load

    model = load(bundle, backend=backend, threads=threads)
    role = model.manifest["graphs"][0]["role"]
    num_styles = int(model.manifest.get("num_styles", 1))
    session = model.session(role)
    results = []
    for size in parse_sizes(sizes):
        feeds = bench_inputs(size, batch, num_styles)
        feeds = {k: v for k, v in feeds.items() if k in session.input_names}
        times = time_fn(lambda: session.run(feeds), runs, warmup)
        results.append({"size": list(size), "batch": batch, "backend": backend,
                        "providers": getattr(session, "providers", [backend]), **latency_stats(times, batch)})
    return results
