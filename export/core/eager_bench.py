"""The PyTorch eager side of ``styleforge bench``: rebuild the network from the bundle's source checkpoint
(or one you name) and time ``net(image, style_index)`` under ``torch.inference_mode()`` on the same input
tensor the runtime gets (``styleforge.runtime.latency.benchmark_bundle`` runs both in one run)."""
from __future__ import annotations

from pathlib import Path

from ...runtime.latency import bench_inputs, latency_stats, parse_sizes, time_fn
from ...runtime.errors import StyleForgeError


def eager_checkpoint(bundle, checkpoint=None) -> Path:
    """The checkpoint to rebuild for the eager side: `checkpoint`, else the bundle's source checkpoint."""
    from ...runtime.bundle import read_manifest

    if checkpoint is None:
        src = read_manifest(bundle).source_checkpoint
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

    from ...train.core.checkpoint import load_modules

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
