"""The default PyTorch row of ``styleforge bench`` (runtime/latency.py): the ``torch-eager`` runner
(export/core/torch_backend.py) behind the same interface call as every other row, and for WCT bundles
``torch-exact`` instead: the PytorchWCT-style reference pipeline (train/wct/pipeline.py in ``exact`` mode: one
encoder pass per level, eigh in float64), with the style statistics computed once, as the runtime caches them.
``torch-exact`` is a reference pipeline, not a runner: it has no graph to mirror."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from ...runtime.interfaces import interface_spec
from ...runtime.io_plan import pad_batch
from ...runtime.latency import Contender, runtime_contender


def eager_checkpoint(bundle, checkpoint=None) -> Path:
    """The checkpoint behind a bundle: `checkpoint`, else the bundle's source checkpoint (which must still exist)."""
    from ...runtime.bundle import read_manifest

    if checkpoint is None:
        src = read_manifest(bundle).source_checkpoint
        if not src:
            raise StyleForgeError(f"{bundle}: manifest names no source checkpoint; pass --checkpoint or --no-torch")
        if not Path(src).exists():
            raise StyleForgeError(f"{bundle}: its source checkpoint {src} is gone; pass --checkpoint PATH or --no-torch")
        checkpoint = src
    return Path(checkpoint)


def _to_u8(y: np.ndarray, crop) -> np.ndarray:
    h, w = crop
    return np.clip(np.rint(y[0, :, :h, :w].transpose(1, 2, 0)), 0, 255).astype(np.uint8)


def _wct_exact_contender(bundle, threads, checkpoint) -> Contender:
    import torch

    from ...runtime.bundle import read_manifest
    from ...train.wct.pipeline import load_pipeline

    m = read_manifest(bundle)
    c = Contender(bundle=str(bundle), precision="fp32", backend="torch-exact", interface="wct", reference=True)
    if threads:
        torch.set_num_threads(int(threads))
    try:
        pipe, _ = load_pipeline(str(eager_checkpoint(bundle, checkpoint)), mode="exact")
    except (StyleForgeError, OSError, KeyError) as e:
        c.error = f"cannot rebuild the PyTorch WCT pipeline: {e}"
        return c
    mult = pipe.size_multiple
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0)  # noqa: E731

    def make(inputs):
        style, _ = pad_batch(inputs["style"][None], mult, mult)
        with torch.inference_mode():
            stats = pipe.encode_style(as_t(style))
        batch, crop = pad_batch(inputs["image"][None], mult, mult)
        x = as_t(batch)

        def run():
            with torch.inference_mode():
                return _to_u8(pipe.stylize(x, stats, 1.0).numpy() * 255.0, crop)

        return run

    c.make = make
    c.extra = {"note": "PytorchWCT-style: one encoder pass per level, eigh in float64, style statistics cached"}
    del m
    return c


def reference_contenders(bundle, *, threads=None, checkpoint=None) -> list[Contender]:
    """The PyTorch reference rows for `bundle` (the first bundle of a bench): the ``torch-eager`` runner; WCT
    bundles get ``torch-exact`` instead."""
    from ...runtime.bundle import read_manifest

    interface = read_manifest(bundle).model.interface
    if interface_spec(interface).eager_bench == "exact":
        return [_wct_exact_contender(bundle, threads, checkpoint)]
    return [runtime_contender(str(bundle), "torch-eager", threads, **({"checkpoint": checkpoint} if checkpoint else {}))]
