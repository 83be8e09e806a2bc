"""Runtime backend vs PyTorch eager on the same checkpoint, in the same run.

The runtime side (``styleforge.runtime.benchmark``) never imports torch; the eager side
rebuilds the network from the bundle's source checkpoint (or one you name) and times
``net(image, style_index)`` under ``torch.inference_mode()`` on the same input tensor.

    from styleforge.export.benchmark import benchmark_bundle, format_bench
    report = benchmark_bundle("mosaic.sfbundle", sizes="256,512", runs=20)
    print(format_bench(report))
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

from ..runtime.benchmark import bench_inputs, bench_runtime, latency_stats, parse_sizes, time_fn
from ..runtime.errors import StyleForgeError


def eager_checkpoint(bundle, checkpoint=None) -> Path:
    """The checkpoint to rebuild for the eager side: `checkpoint`, else the bundle's source checkpoint."""
    from ..runtime.bundle import read_manifest

    if checkpoint is None:
        src = read_manifest(bundle).get("source_checkpoint")
        if not src:
            raise StyleForgeError(f"{bundle}: manifest names no source checkpoint; pass --checkpoint or --no-torch")
        if not Path(src).exists():
            raise StyleForgeError(f"{bundle}: its source checkpoint {src} is gone; pass --checkpoint PATH or --no-torch")
        checkpoint = src
    return Path(checkpoint)


def bench_eager(checkpoint, sizes, *, batch: int = 1, runs: int = 20, warmup: int = 3, threads: int | None = None,
                device: str = "cpu") -> list[dict]:
    """Time PyTorch eager on the checkpoint's network (same inputs as the runtime side)."""
    import torch

    from ..train.checkpoint import load_modules

    if threads:
        torch.set_num_threads(int(threads))
    modules, config = load_modules(checkpoint, ["net"])
    net = modules["net"].eval().to(device)
    num_styles = int(getattr(net, "num_styles", 1))
    results = []
    for size in parse_sizes(sizes):
        feeds = bench_inputs(size, batch, num_styles)
        x = torch.from_numpy(feeds["image"]).to(device)
        s = torch.from_numpy(feeds["style_index"]).to(device)

        def run():
            with torch.inference_mode():
                net(x, s)
            if device != "cpu":
                torch.cuda.synchronize()

        times = time_fn(run, runs, warmup)
        results.append({"size": list(size), "batch": batch, "backend": f"torch-eager-{device}",
                        "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                        **latency_stats(times, batch)})
    return results


def benchmark_bundle(bundle, *, sizes="256,512", batch: int = 1, runs: int = 20, warmup: int = 3,
                     backend: str = "ort-cpu", threads: int | None = None, with_torch: bool = True,
                     checkpoint=None) -> dict:
    """Runtime backend and (unless ``with_torch=False``) PyTorch eager, per size, with their ratio."""
    sizes = parse_sizes(sizes)
    if batch <= 0 or runs <= 0 or warmup < 0:
        raise StyleForgeError("--batch and --runs must be positive, --warmup non-negative")
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
    lines = [f"{report['bundle']}: {report['backend']} vs PyTorch eager, batch {report['results'][0]['batch']}, "
             f"{report['runs']} runs after {report['warmup']} warm-up",
             f"{'size':<11}{'engine':<16}{'median ms':>10}{'p90 ms':>9}{'p99 ms':>9}{'img/s':>9}"]
    for r in report["results"]:
        size = "x".join(map(str, r["size"]))
        for key, label in (("runtime", report["backend"]), ("torch_eager", "torch eager")):
            if key in r:
                s = r[key]
                lines.append(f"{size:<11}{label:<16}{s['median_ms']:>10.2f}{s['p90_ms']:>9.2f}{s['p99_ms']:>9.2f}"
                             f"{s['images_per_s']:>9.2f}")
        if "speedup" in r:
            lines.append(f"{size:<11}{'ratio':<16}{'eager/runtime = ' + format(r['speedup'], '.2f') + 'x':>28}")
    return "\n".join(lines)
