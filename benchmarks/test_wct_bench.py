"""pytest-benchmark: WCT stylisation, exported NS graph on ORT CPU vs the PyTorch exact path (same run).

Run:  python -m pytest benchmarks/test_wct_bench.py --benchmark-enable
      SF_WCT_DIR=WCT_DIR SF_WCT_BUNDLE=wct.sfbundle  use trained decoders and their bundle
      SF_BENCH_SIZES=256,512 (default), SF_WCT_LEVELS=1,2,3,4,5 for the untrained fallback

Without SF_WCT_DIR, decoders of every level are built untrained (1 step, width 0.25) and exported:
latency does not depend on the weights, and the encoder is the full VGG19 either way. Style
statistics are precomputed on both sides (what the runtime's cache does for a repeated style).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

SIZES = [int(s) for s in os.environ.get("SF_BENCH_SIZES", "256,512").split(",")]
LEVELS = [int(s) for s in os.environ.get("SF_WCT_LEVELS", "1,2,3,4,5").split(",")]


@pytest.fixture(scope="module")
def wct(tmp_path_factory):
    from styleforge.export.core.api import export_checkpoint
    from styleforge.runtime import load
    from styleforge.train.wct.pipeline import load_pipeline

    wct_dir, bundle = os.environ.get("SF_WCT_DIR"), os.environ.get("SF_WCT_BUNDLE")
    if not (wct_dir and bundle):
        from styleforge.train.wct.trainer import WCTDecoderTrainer

        d = tmp_path_factory.mktemp("wctbench")
        for level in LEVELS:
            WCTDecoderTrainer(d / "wct" / f"level{level}", level=level, size=32, batch_size=1, width_mult=0.25,
                              steps=1, progress=False).fit()
        wct_dir, bundle = d / "wct", export_checkpoint(d / "wct", d / "b.sfbundle")
    exact, _ = load_pipeline(wct_dir, mode="exact")
    return load(bundle, backend="ort-cpu"), exact


def _inputs(size, model):
    from styleforge.export.wct.exporter import golden_pair

    c, s = golden_pair(size, size, (256, 256))
    return c, s, model.style_stats(s[0].transpose(1, 2, 0).astype(np.uint8))


@pytest.mark.parametrize("size", SIZES)
def test_ort_cpu_ns_graph(benchmark, wct, size):
    model, exact = wct
    benchmark.group = f"wct-{size}"
    c, _, stats = _inputs(size, model)
    alpha = np.ones(len(exact.levels), np.float32)
    out = benchmark(model.run, {"content": c, "alpha": alpha, **stats}, "stylize")
    assert out["image"].shape == c.shape and np.isfinite(out["image"]).all()


@pytest.mark.parametrize("size", SIZES)
def test_torch_exact(benchmark, wct, size):
    model, exact = wct
    benchmark.group = f"wct-{size}"
    c, s, _ = _inputs(size, model)
    tc, ts = torch.from_numpy(c) / 255, torch.from_numpy(s) / 255
    with torch.inference_mode():
        stats = exact.encode_style(ts)
        out = benchmark(lambda: exact.stylize(tc, stats, 1.0))
    assert out.shape == tc.shape and torch.isfinite(out).all()
