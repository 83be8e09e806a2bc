"""``styleforge bench``: latency of bundles on runners, against PyTorch, in one run (numpy + onnxruntime; torch
only for the PyTorch rows: the ``torch-eager``/``torch-cuda`` runners, registered lazily, and WCT's reference
pipeline from ``styleforge.export.core.eager_bench``).

    from styleforge.runtime.latency import benchmark, format_bench
    report = benchmark(["demo.sfbundle", "demo-int8.sfbundle"], sizes="256,512", threads=2)
    print(format_bench(report))          # report["rows"]: one row per bundle × backend × size

What is timed is the interface call a user makes, pre- and post-processing included (``model(image)`` for
stylizers and translators, ``model.generate(z)`` for generators, the content path with cached style statistics
for WCT), on the same H×W×3 uint8 input for every row. Every row is a runner behind the same interface call,
the PyTorch ones included (``torch-eager``, ``torch-cuda``: runners whose ``reference`` flag says they run the
source model, so they run on the first bundle only). The default PyTorch row is the first bundle's reference
(:func:`reference_contenders`: the ``torch-eager`` runner, or for WCT bundles ``torch-exact``, the
PytorchWCT-style pipeline with one encoder per level and fp64 eigh — a reference pipeline, not a runner).
Contenders are timed interleaved — every round runs each of them
twice and keeps the second (the first after a switch pays for the previous contender's spinning thread pool and
cold caches) — so load changes hit them alike. ``psnr_db`` compares each row's output image with the first
bundle's on the same input.
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import StyleForgeError
from .images import parse_sizes
from .interfaces import interface_spec

def latency_stats(seconds: list[float], batch: int = 1) -> dict:
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
    """Raw stylizer feeds: a random image batch (padded to a multiple of 4) and style indices."""
    h, w = size
    h, w = h + (-h) % 4, w + (-w) % 4
    rng = np.random.default_rng(seed)
    feeds = {"image": rng.uniform(0, 255, (batch, 3, h, w)).astype(np.float32)}
    feeds["style_index"] = (np.arange(batch) % max(1, num_styles)).astype(np.int64)
    return feeds


def bench_image(h: int, w: int, which: str = "astronaut") -> np.ndarray:
    """An H×W×3 uint8 test picture: a bundled photo when scikit-image is installed (int8 variants are calibrated on
    photos, and PSNR on noise says little), else a smooth synthetic picture."""
    from PIL import Image

    try:
        from ..train.core.samples import sample_image  # numpy + scikit-image, no torch

        img = sample_image(which)
    except Exception:
        y, x = np.mgrid[0:256, 0:256] / 255.0
        img = np.stack([np.sin(6 * x + 2 * y), np.cos(5 * y - x), np.sin(3 * (x + y)) * np.cos(4 * x)], -1)
        img = np.clip((img * 0.5 + 0.5) * 255, 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR))


def psnr(a: np.ndarray, b: np.ndarray) -> float | None:
    """PSNR (dB) of two images on [0, 255]; None when shapes differ, inf when equal."""
    if a.shape != b.shape:
        return None
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


@dataclass
class Contender:
    """One row family of the bench: what to call for an input, or why it cannot run."""

    bundle: str
    precision: str
    backend: str
    interface: str
    io: str = "float-nchw"
    make: Callable | None = None        # (inputs: dict) -> (callable returning an H×W×3 uint8 image)
    error: str | None = None
    gpu: str | None = None
    reference: bool = False             # runs the source model (PyTorch), not a bundle graph
    extra: dict = field(default_factory=dict)


def bench_case_inputs(interface: str, size: tuple[int, int]) -> dict:
    """The inputs every contender gets at one size: content picture, a style picture (WCT), a latent seed."""
    h, w = size
    return {"image": bench_image(h, w), "style": bench_image(256, 256, "mosaic"), "seed": 0, "size": size}


def runtime_contender(path: str, backend: str, threads: int | None, **options) -> Contender:
    """A bundle on a runner (a row per size), or the reason it cannot run here. `options` go to the runner."""
    from .backends import runner_class
    from .bundle import read_manifest
    from .model import load

    m = read_manifest(path)
    interface = m.model.interface
    io = m.lineage.io if m.lineage is not None else "float-nchw"
    try:
        cls = runner_class(backend) if backend != "auto" else None
    except StyleForgeError as e:
        return Contender(bundle=str(path), precision=m.precision, backend=backend, interface=interface, io=io,
                         error=str(e))
    precision = (cls.precision if cls is not None else None) or m.precision
    c = Contender(bundle=str(path), precision=precision, backend=backend, interface=interface, io=io,
                  reference=cls is not None and cls.reference)
    if cls is not None and cls.device != "cpu":
        c.gpu = _gpu_name()
    try:
        model = load(path, backend=backend, threads=threads, **options)
        model.session(model.spec.role(m))  # fail now, not in the timing loop
    except StyleForgeError as e:
        c.error = str(e)
        return c

    def make(inputs):
        return model.spec.bench_call(model, inputs)

    c.make = make
    return c


def reference_contenders(bundle: str, threads: int | None, checkpoint=None) -> list[Contender]:
    """The default PyTorch row of a bench: export's choice (``eager_bench.reference_contenders``), or, where
    torch/export are not installed, the first reference runner's row saying what is missing."""
    from .backends import runners

    try:
        from ..export.core.eager_bench import reference_contenders as export_reference
    except ImportError:
        first = next(n for n, cls in runners().items() if cls.reference)
        return [runtime_contender(bundle, first, threads)]
    return export_reference(bundle, threads=threads, checkpoint=checkpoint)


def bench_contenders(bundles: list[str], backends: list[str], *, threads, with_torch: bool, checkpoint,
                     source: str | None, options: dict) -> list[Contender]:
    """Every (bundle, runner) row family: runners over every bundle, reference runners (``reference``) over the
    first only, then the default reference row when `with_torch` (skipped without a source checkpoint, unless
    a reference runner was asked for by name)."""
    from .backends import runner_class

    def is_reference(name: str) -> bool:
        try:
            return name != "auto" and runner_class(name).reference
        except StyleForgeError:
            return False

    opts = {**options, **({"checkpoint": checkpoint} if checkpoint else {})}
    out = [runtime_contender(b, backend, threads, **options) for b in bundles for backend in backends
           if not is_reference(backend)]
    refs = [runtime_contender(bundles[0], backend, threads, **opts) for backend in backends if is_reference(backend)]
    if with_torch and (checkpoint or source):
        refs = [c for c in reference_contenders(bundles[0], threads, checkpoint)
                if c.backend not in {r.backend for r in refs}] + refs
    return out + refs


def _gpu_name() -> str | None:
    try:
        from .doctor import gpu

        return gpu().get("name")
    except Exception:
        return None


def _size_for(interface: str, manifest, size):
    return interface_spec(interface).bench_size(manifest, size)


def benchmark(bundles, *, sizes="256,512", threads: int | None = None, backends=("ort-cpu",), runs: int = 10,
              warmup: int = 2, with_torch: bool = True, checkpoint=None, options: dict | None = None) -> dict:
    """Every bundle × backend × size, plus the PyTorch rows (see the module docstring). Returns {"rows": [...], …}."""
    from .bundle import read_manifest

    bundles = [str(b) for b in bundles]
    if not bundles:
        raise StyleForgeError("bench: give at least one bundle")
    sizes = parse_sizes(sizes)
    if runs <= 0 or warmup < 0:
        raise StyleForgeError("--runs must be positive and --warmup non-negative")
    backends = [b.strip() for b in (backends.split(",") if isinstance(backends, str) else backends) if b.strip()]
    manifests = {b: read_manifest(b) for b in bundles}
    first = manifests[bundles[0]]
    interface = first.model.interface
    for b, m in manifests.items():
        if m.model.interface != interface:
            raise StyleForgeError(f"bench compares bundles of one interface: {bundles[0]} is {interface}, {b} is "
                                  f"{m.model.interface}")
    contenders = bench_contenders(bundles, backends, threads=threads, with_torch=with_torch, checkpoint=checkpoint,
                                  source=first.source_checkpoint, options=options or {})
    rows = []
    for size in sizes:
        sz = _size_for(interface, first, size)
        if interface_spec(interface).bench_fixed_size() and any(r["size"] == f"{sz[0]}x{sz[1]}" for r in rows):
            continue  # one fixed size
        inputs = bench_case_inputs(interface, sz)
        fns, errors = {}, {}
        for k, c in enumerate(contenders):
            if c.error:
                errors[k] = c.error
                continue
            try:
                fns[k] = c.make(inputs)
            except StyleForgeError as e:
                errors[k] = str(e)
        outputs, times = _run_interleaved(fns, runs, warmup, errors)
        ref = outputs.get(0)  # the first bundle's output on this input
        for k, c in enumerate(contenders):
            row = {"bundle": c.bundle, "precision": c.precision, "backend": c.backend, "size": f"{sz[0]}x{sz[1]}",
                   "median_ms": None, "p90_ms": None, "psnr_db": None, "interface": c.interface, "io": c.io,
                   "gpu": c.gpu, "threads": threads, "reference": c.reference, **c.extra}
            if k in errors:
                row["error"] = errors[k]
            else:
                st = latency_stats(times[k])
                row.update(median_ms=st["median_ms"], p90_ms=st["p90_ms"], min_ms=st["min_ms"], runs=st["runs"])
                if k != 0 and ref is not None:
                    p = psnr(outputs[k], ref)
                    row["psnr_db"] = None if p is None else (p if np.isfinite(p) else "inf")
            rows.append(row)
    return {"rows": rows, "sizes": [f"{h}x{w}" for h, w in sizes], "threads": threads, "runs": runs, "warmup": warmup,
            "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor()}}


def rotated(keys: list, round_index: int) -> list:
    """`keys` starting at position ``round_index mod len(keys)``: the order of one interleaved round. Rotating it
    round by round keeps any row from always following the same one — with a fixed order, two identical OpenVINO
    sessions of the demo stylizer measured a steady 2–6 % apart (AMD EPYC, 512², idle), always favouring the same
    position (benchmarks/auto_record_bench.py)."""
    k = round_index % len(keys) if keys else 0
    return keys[k:] + keys[:k]


def _run_interleaved(fns: dict, runs: int, warmup: int, errors: dict) -> tuple[dict, dict]:
    """Outputs (first call) and per-run seconds of each callable, timed round-robin (two calls per round, the
    second timed; the order rotates every round, :func:`rotated`). A callable that raises StyleForgeError gets its
    message in `errors`."""
    outputs, times = {}, {k: [] for k in fns}
    for k, fn in list(fns.items()):
        try:
            outputs[k] = np.asarray(fn())
            for _ in range(max(0, warmup - 1)):
                fn()
        except StyleForgeError as e:
            errors[k] = str(e)
            del fns[k], times[k]
    return outputs, timed_rounds(fns, runs)


def timed_rounds(fns: dict, runs: int, *, deadline: float | None = None, progress=None) -> dict:
    """{key: [seconds]}: `runs` round-robin rounds over `fns`, each timed call right after an untimed one of the same
    key (the previous contender's idle threads settle on someone else's time), the order rotating every round
    (:func:`rotated`). Stops before a round that would start after `deadline` (time.monotonic()), keeping the rounds
    done (at least one); `progress(text)` hears each round with an ETA."""
    times: dict = {k: [] for k in fns}
    t0 = time.monotonic()
    for r in range(runs):
        if deadline is not None and r > 0 and time.monotonic() > deadline:
            break
        for k in rotated(list(fns), r):
            fns[k]()
            s = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - s)
        if progress is not None:
            per = (time.monotonic() - t0) / (r + 1)
            progress(f"timing round {r + 1}/{runs}, ETA {per * (runs - r - 1):.0f} s")
    return times


def benchmark_bundle(bundle, *, sizes="256,512", runs: int = 10, warmup: int = 2, backend: str = "ort-cpu",
                     threads: int | None = None, with_torch: bool = True, checkpoint=None, **_) -> dict:
    """One bundle on one backend against PyTorch (``benchmark`` with one bundle; the demo's call)."""
    return benchmark([bundle], sizes=sizes, threads=threads, backends=[backend], runs=runs, warmup=warmup,
                     with_torch=with_torch, checkpoint=checkpoint)


def format_bench(report: dict) -> str:
    from .tables import bench_table, render_text

    return render_text(bench_table(report))


def plot_bench(report: dict, path) -> None:
    """Latency against image size, one line per bundle × backend (matplotlib; PNG written atomically)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise StyleForgeError("--plot needs matplotlib (pip install 'styleforge[plot]')") from None
    from pathlib import Path

    from .atomic import atomic_path

    lines: dict[str, list] = {}
    for r in report["rows"]:
        if r.get("median_ms") is None:
            continue
        h, w = (int(v) for v in r["size"].split("x"))
        label = f"{Path(r['bundle']).name.removesuffix('.sfbundle')} ({r['precision']}, {r['backend']})" \
            if not r.get("reference") else r["backend"]
        lines.setdefault(label, []).append((h * w / 1e6, r["median_ms"], r["size"]))
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for label, pts in lines.items():
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    ticks = sorted({p for pts in lines.values() for p in pts})
    ax.set_xticks([p[0] for p in ticks], [p[2] for p in ticks])
    ax.set_xlabel("image size (pixels, linear in megapixels)")
    ax.set_ylabel("median latency (ms)")
    ax.set_title(f"styleforge bench, {report.get('threads') or 'default'} threads")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
