"""WCT tables (docs/wct.md): NS iteration count vs error, and stylisation latency of the exported
NS graph on ORT CPU vs the PyTorch exact path, measured in the same run.

    python benchmarks/wct_table.py --bundle wct.sfbundle --wct-dir WCT_DIR [--sizes 256,512] [--repeat 3]
    python benchmarks/wct_table.py --ns-only           # just the iteration table (no bundle needed)
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def ns_table(iters=(5, 10, 15, 18, 20, 24, 30), size: int = 128) -> list[str]:
    import torch

    from styleforge.train.core.samples import sample_image
    from styleforge.train.wct.models import WCTEncoder
    from styleforge.train.wct.transforms import ns_sqrt_invsqrt, whiten_color
    from styleforge.export.wct.exporter import _resize

    lines = [f"NS iterations vs error (fp32). Real: relative error of whiten_color ns vs exact on random(seed=0) "
             f"VGG19 features, astronaut→mosaic at {size}px. Synthetic: ‖ZΣZ−I‖_F/√C, C=256, no ridge."]
    enc = WCTEncoder(5, warn=False)
    f = lambda n: torch.from_numpy(_resize(sample_image(n), size, size).copy()).permute(2, 0, 1)[None].float() / 255  # noqa
    with torch.no_grad():
        fc, fs = enc.taps(f("astronaut")), enc.taps(f("mosaic"))
    head = f"{'iters':>6}" + "".join(f"{'relu%d_1' % l:>11}" for l in range(1, 6)) + "".join(f"{'κ=1e%d' % k:>10}" for k in (1, 3, 5))
    lines.append(head)
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(256, 256, generator=g, dtype=torch.float64))
    sig = {k: ((q * torch.logspace(0, -k, 256, dtype=torch.float64)) @ q.T).float() for k in (1, 3, 5)}
    exact = {l: whiten_color(fc[l][0].flatten(1), fs[l][0].flatten(1), "exact") for l in range(1, 6)}
    for it in iters:
        row = f"{it:>6}"
        for l in range(1, 6):
            ns = whiten_color(fc[l][0].flatten(1), fs[l][0].flatten(1), "ns", iters=it)
            row += f"{float((ns - exact[l]).norm() / exact[l].norm()):>11.2e}"
        for k in (1, 3, 5):
            _, z = ns_sqrt_invsqrt(sig[k], it)
            row += f"{float((z @ sig[k] @ z - torch.eye(256)).norm() / 16):>10.1e}"
        lines.append(row)
    return lines


def _best(fn, repeat):
    fn()  # warm-up
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def latency_table(bundle, wct_dir, sizes=(256, 512), repeat: int = 3, threads: int | None = None,
                  torch_ns: bool = False) -> list[str]:
    import torch

    from styleforge.export.wct.exporter import golden_pair
    from styleforge.runtime import load
    from styleforge.train.wct.pipeline import load_pipeline

    model = load(bundle, backend="ort-cpu", threads=threads)
    exact, info = load_pipeline(wct_dir, mode="exact")
    ns_torch = exact.with_mode("ns")
    n = len(exact.levels)
    lines = [f"WCT stylisation latency, levels {sorted(exact.levels)}, style statistics precomputed (cached), "
             f"best of {repeat}; torch threads {torch.get_num_threads()}, ORT threads {threads or 'default'}",
             f"{'size':>8}{'ORT CPU NS graph':>20}{'PyTorch exact':>16}" + (f"{'PyTorch NS':>14}" if torch_ns else "")]
    for s in sizes:
        c, st = golden_pair(s, s, (256, 256))
        alpha = np.ones(n, np.float32)
        stats = model.style_stats(st[0].transpose(1, 2, 0).astype(np.uint8))
        ort_t = _best(lambda: model.run({"content": c, "alpha": alpha, **stats}, role="stylize"), repeat)
        tc, ts = torch.from_numpy(c) / 255, torch.from_numpy(st) / 255
        with torch.no_grad():
            se, sn = exact.encode_style(ts), ns_torch.encode_style(ts)
            ex_t = _best(lambda: exact.stylize(tc, se, 1.0), repeat)
            ns_t = _best(lambda: ns_torch.stylize(tc, sn, 1.0), repeat) if torch_ns else None
        lines.append(f"{s}x{s}:{ort_t * 1e3:>17.0f} ms{ex_t * 1e3:>13.0f} ms" + (f"{ns_t * 1e3:>11.0f} ms" if torch_ns else ""))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle")
    ap.add_argument("--wct-dir")
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--ns-only", action="store_true")
    ap.add_argument("--torch-ns", action="store_true", help="also time the PyTorch NS path")
    ap.add_argument("--no-ns", action="store_true")
    a = ap.parse_args()
    if not a.no_ns:
        print("\n".join(ns_table()))
    if not a.ns_only and a.bundle:
        print()
        print("\n".join(latency_table(a.bundle, a.wct_dir, [int(s) for s in a.sizes.split(",")], a.repeat, a.threads, a.torch_ns)))


if __name__ == "__main__":
    main()
