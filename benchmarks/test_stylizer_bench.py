"""pytest-benchmark: stylizer bundle on ONNX Runtime CPU vs PyTorch eager on the same checkpoint.

Run:  python -m pytest benchmarks/test_stylizer_bench.py --benchmark-enable
      (SF_BENCH_SIZE=256 SF_BENCH_WIDTH=1.0 for a full-width model at 256²; defaults: 128, width 0.5)

The model is untrained (2 optimiser steps): latency does not depend on the weights. Both sides
get the same float32 N×3×H×W tensor; the runtime side runs the raw ``stylize`` graph.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

SIZE = int(os.environ.get("SF_BENCH_SIZE", "128"))
WIDTH = float(os.environ.get("SF_BENCH_WIDTH", "0.5"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from styleforge.export.core.api import export_checkpoint
    from styleforge.train.stylizer.trainer import train_stylizer

    d = tmp_path_factory.mktemp("bench")
    ckpt = train_stylizer(["sample:mosaic"], d / "run", steps=1, size=32, batch=1, width_mult=WIDTH, progress=False)
    return export_checkpoint(ckpt, d / "bench.sfbundle"), ckpt


@pytest.fixture(scope="module")
def feeds():
    from styleforge.runtime.latency import bench_inputs

    return bench_inputs((SIZE, SIZE), 1)


@pytest.mark.benchmark(group=f"stylizer-{SIZE}")
def test_ort_cpu(benchmark, bundle, feeds):
    from styleforge.runtime import load

    session = load(bundle[0], backend="ort-cpu").session("stylize")
    f = {k: v for k, v in feeds.items() if k in session.input_names}
    out = benchmark(session.run, f)
    assert out["stylized"].shape == feeds["image"].shape


@pytest.mark.benchmark(group=f"stylizer-{SIZE}")
def test_torch_eager(benchmark, bundle, feeds):
    from styleforge.train.core.checkpoint import load_modules

    net = load_modules(bundle[1], ["net"])[0]["net"].eval()
    x = torch.from_numpy(feeds["image"])
    s = torch.from_numpy(feeds["style_index"])

    def run():
        with torch.inference_mode():
            return net(x, s)

    out = benchmark(run)
    assert tuple(out.shape) == feeds["image"].shape


@pytest.mark.benchmark(group=f"stylizer-{SIZE}-runtime-api")
def test_runtime_call_uint8(benchmark, bundle):
    """End to end through model(image): uint8 in, padding, graph, crop, uint8 out (an odd size)."""
    from styleforge.runtime import load

    model = load(bundle[0], backend="ort-cpu")
    img = np.random.default_rng(0).integers(0, 256, (SIZE - 1, SIZE + 3, 3), dtype=np.uint8)
    out = benchmark(model, img)
    assert out.shape == img.shape
