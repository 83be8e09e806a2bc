"""Latency of a bundle on a runtime backend (numpy + onnxruntime; torch only for the eager baseline).

``bench_runtime(bundle, sizes=[(256, 256)], batch=1)`` times the raw ``stylize`` graph (the same tensor
the PyTorch eager side gets, see ``styleforge.export.core.eager_bench``) and returns median / p90 / p99
latency and images per second for each size. ``benchmark_bundle`` runs both sides in one run:

    from styleforge.runtime.latency import benchmark_bundle, format_bench
    print(format_bench(benchmark_bundle("mosaic.sfbundle", sizes="256,512", runs=20)))
"""
from __future__ import annotations

import os
import platform
import time

import numpy as np

from .errors import StyleForgeError
from .images import parse_sizes


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
    role = model.manifest.graphs[0].role
    num_styles = int(getattr(model.config, "num_styles", 1))
    session = model.session(role)
    results = []
    for size in parse_sizes(sizes):
        feeds = bench_inputs(size, batch, num_styles)
        feeds = {k: v for k, v in feeds.items() if k in session.input_names}
        times = time_fn(lambda: session.run(feeds), runs, warmup)
        results.append({"size": list(size), "batch": batch, "backend": backend,
                        "providers": getattr(session, "providers", [backend]), **latency_stats(times, batch)})
    return results


def benchmark_bundle(bundle, *, sizes="256,512", batch: int = 1, runs: int = 20, warmup: int = 3,
                     backend: str = "ort-cpu", threads: int | None = None, with_torch: bool = True,
                     checkpoint=None) -> dict:
    """Runtime backend and (unless ``with_torch=False``) PyTorch eager, per size, with their ratio."""
    sizes = parse_sizes(sizes)
    if batch <= 0 or runs <= 0 or warmup < 0:
        raise StyleForgeError("--batch and --runs must be positive, --warmup non-negative")
    if with_torch:
        from ..export.core.eager_bench import bench_eager, eager_checkpoint
    ckpt = eager_checkpoint(bundle, checkpoint) if with_torch else None  # fail before the long part
    rt = bench_runtime(bundle, sizes, batch=batch, runs=runs, warmup=warmup, backend=backend, threads=threads)
    rows = []
    eager = bench_eager(ckpt, sizes, batch=batch, runs=runs, warmup=warmup, threads=threads) if with_torch else None
    for i, size in enumerate(sizes):
        row = {"size": list(size), "batch": batch, "runtime": rt[i]}
        if eager is not None:
            row["torch_eager"] = eager[i]
            row["speedup"] = eager[i]["median_ms"] / rt[i]["median_ms"]
        rows.append(row)
    return {"bundle": str(bundle), "backend": backend, "threads": threads, "runs": runs, "warmup": warmup,
            "checkpoint": str(ckpt) if ckpt else None, "machine": {"cpu_count": os.cpu_count(),
                                                                    "platform": platform.platform(),
                                                                    "processor": platform.processor()},
            "results": rows}


def format_bench(report: dict) -> str:
    from .tables import bench_table, render_text

    return render_text(bench_table(report))
