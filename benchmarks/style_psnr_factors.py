"""Which input drops a converted style bundle's PSNR against its fp32 parent: the style, the content picture or the
size (docs/deploy.md, five-level WCT). Both bundles on ONNX Runtime CPU, the same content (resized square, as
``bench`` does) and style (≤ 256 px) for each; prints a Markdown table, the CPU model and the load:

    python3 benchmarks/style_psnr_factors.py wct.sfbundle wct-tuned.sfbundle --threads 2
"""
from __future__ import annotations

import argparse
import os
import platform

import sfpath

sfpath.install()

from styleforge.runtime.latency import bench_image, psnr  # noqa: E402
from styleforge.runtime.model import load  # noqa: E402
from styleforge.train.core.samples import resolve_image  # noqa: E402


def cpu_model() -> str:
    for line in open("/proc/cpuinfo", errors="replace"):
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference", help="the fp32 bundle")
    ap.add_argument("candidate", help="the bundle to compare with it")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--contents", default="astronaut,chelsea", help="sample photos (astronaut: the bench picture)")
    ap.add_argument("--styles", default="mosaic,waves,rocket,brick", help="sample styles")
    ap.add_argument("--sizes", default="256,512")
    a = ap.parse_args()
    ref = load(a.reference, backend="ort-cpu", threads=a.threads)
    cand = load(a.candidate, backend="ort-cpu", threads=a.threads)
    styles = a.styles.split(",")
    style_imgs = {s: resolve_image(f"sample:{s}", max_side=256) for s in styles}
    print(f"{cpu_model()}, {a.threads} threads; load average {', '.join(f'{v:.2f}' for v in os.getloadavg())} before\n")
    print("| content, size | " + " | ".join(styles) + " |")
    print("|---" * (len(styles) + 1) + "|")
    for n in (int(v) for v in a.sizes.split(",")):
        for c in a.contents.split(","):
            img = bench_image(n, n, c)
            cells = [f"{psnr(cand(img, style=style_imgs[s]), ref(img, style=style_imgs[s])):.1f}" for s in styles]
            print(f"| {c}, {n}² | " + " | ".join(cells) + " |", flush=True)
    print(f"\nload average {', '.join(f'{v:.2f}' for v in os.getloadavg())} after")


if __name__ == "__main__":
    main()
