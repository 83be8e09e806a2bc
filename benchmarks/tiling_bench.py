"""Images of any size (runtime/tiling.py): peak memory and time, tiled vs untiled, and the difference of each
statistics mode against an untiled run (docs/serve.md, "Images of any size").

    python benchmarks/tiling_bench.py memory --bundle B --sizes 1024,4096,8192 --untiled-max 4096 --out tiling-mem
    python benchmarks/tiling_bench.py accuracy --bundle B --size 1024 --out tiling-acc

``memory`` runs each (size, mode) in a fresh process (peak RSS = ru_maxrss of that process, which includes the
uint8 input and output images and the sessions) on a photo tiled up to the size. ``accuracy`` compares tiled
output with the untiled runtime at one size, for the default downscaled statistics at several pixel budgets and
for --exact-stats. Bundles without tiling graphs get them (`styleforge tiling add`) in a copy under OUT.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def photo(size: int) -> np.ndarray:
    """The bundled 'astronaut' photo at 1024² (LANCZOS), tiled up to `size` (content matters little for cost)."""
    from PIL import Image

    from styleforge.train.core.samples import resolve_image

    img = np.asarray(Image.fromarray(resolve_image("sample:astronaut")).resize((min(size, 1024),) * 2, Image.Resampling.LANCZOS))
    reps = max(1, size // img.shape[0])
    return np.ascontiguousarray(np.tile(img, (reps, reps, 1))[:size, :size])


def prepared(bundle: str, out: Path) -> Path:
    from styleforge.runtime.bundle import read_manifest

    if read_manifest(bundle).tiling_for("stylize"):
        return Path(bundle)
    copy = out / Path(bundle).name
    if not copy.exists():
        shutil.copytree(bundle, copy)
        subprocess.run([sys.executable, "-m", "styleforge.runtime.cli", "tiling", "add", str(copy)], check=True)
    return copy


def one(bundle: str, size: int, mode: str, tile: int, threads: int) -> dict:
    """One measurement in this process (called in a fresh subprocess by `memory`)."""
    from styleforge.runtime import load

    img = photo(size)
    model = load(bundle, backend="ort-cpu", threads=threads)
    if mode == "tiled":
        runner = model.tiled("stylize", tile=tile)  # sessions made here: counted in the baseline
    else:
        model.session("stylize")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    out = runner(img) if mode == "tiled" else model(img)
    dt = time.perf_counter() - t0
    assert out.shape == img.shape
    return {"size": size, "mode": mode, "tile": tile if mode == "tiled" else None, "seconds": round(dt, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "rss_before_run_mb": round(base), "image_in_out_mb": round(2 * img.nbytes / 2**20)}


def memory(a) -> list[dict]:
    out = Path(a.out)
    bundle = prepared(a.bundle, out)
    rows = []
    for size in a.sizes:
        for mode in ("untiled", "tiled"):
            if mode == "untiled" and size > a.untiled_max:
                continue
            load = os.getloadavg()[0]
            p = subprocess.run([sys.executable, __file__, "one", str(bundle), str(size), mode, str(a.tile), str(a.threads)],
                               capture_output=True, text=True, timeout=3600)
            row = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else \
                {"size": size, "mode": mode, "error": p.stderr[-300:]}
            row["loadavg_1m_at_start"] = round(load, 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def accuracy(a) -> list[dict]:
    from styleforge.runtime import load

    bundle = prepared(a.bundle, Path(a.out))
    img = photo(a.size)
    model = load(bundle, backend="ort-cpu", threads=a.threads)
    ref = model(img).astype(np.float64)
    rows = []
    cases = []
    for side in a.stats_sides:
        cases.append((f"downscaled: one {side}x{side} statistics pass", {"stats_pixels": side * side}))
    cases.append(("exact: statistics over tiles, layer by layer", {"stats_pixels": 256 * 256, "exact_stats": True}))
    for label, opts in cases:
        t0 = time.perf_counter()
        out = model.stylize_tiled(img, tile=a.tile, **opts).astype(np.float64)
        d = np.abs(out - ref)
        rows.append({"mode": label, "size": a.size, "tile": a.tile, "max_abs": float(d.max()),
                     "mean_abs": round(float(d.mean()), 4), "p99_abs": float(np.percentile(d, 99)),
                     "seconds": round(time.perf_counter() - t0, 1), "loadavg_1m": round(os.getloadavg()[0], 2)})
        print(json.dumps(rows[-1]), flush=True)
    t0 = time.perf_counter()
    model(img)
    rows.append({"mode": "untiled (reference)", "seconds": round(time.perf_counter() - t0, 1)})
    print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["one"]:
        print(json.dumps(one(argv[1], int(argv[2]), argv[3], int(argv[4]), int(argv[5]))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["memory", "accuracy"])
    ap.add_argument("--bundle", required=True, help="stylizer bundle")
    ap.add_argument("--sizes", type=lambda t: [int(v) for v in t.split(",")], default=[1024, 4096, 8192])
    ap.add_argument("--untiled-max", type=int, default=4096, help="largest side also run untiled (memory grows ~linearly)")
    ap.add_argument("--size", type=int, default=1024, help="accuracy: image side")
    ap.add_argument("--stats-sides", type=lambda t: [int(v) for v in t.split(",")], default=[1024, 512, 256],
                    help="accuracy: sides of the downscaled statistics pass")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="tiling-bench")
    a = ap.parse_args(argv)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    rows = memory(a) if a.what == "memory" else accuracy(a)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    (Path(a.out) / f"{a.what}.json").write_text(json.dumps({"uptime_at_end": uptime, "rows": rows}, indent=1))
    print(uptime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
