"""The torch-cuda runner on a stylizer and a WCT bundle (run by benchmarks/gpu_check.sh; no styleforge install
needed): export/core/torch_runner.py's TorchRunner in every mode — torch-eager on the CPU (the baseline),
torch-cuda eager, cuda-graphs, fp16, channels-last fp16 — and ONNX Runtime CPU where onnxruntime is
installed, on the same inputs in the same run. Prints a table headed by the GPU's name; ``--json FILE``
keeps the numbers.

    python benchmarks/torch_runner_bench.py --out DIR [--runs 50] [--sizes 256,512]
    python benchmarks/torch_runner_bench.py --dry-run --out DIR   # any machine: tiny models, CPU rows only

The models are made here (no weights exist on the GPU machine): a width-1 stylizer and a 3-level WCT
(decoders of width 0.5), each trained 2 steps (timing does not depend on the weights), exported to
bundles when onnx is installed (else the runner rebuilds them from the checkpoints). Columns: median and
p90 latency (ms), images/s, speed-up over torch-eager CPU, and max |difference| from torch-eager CPU
(fp32 on GPU differs by TF32, fp16 by half precision).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _import_styleforge():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import sfpath

    sfpath.install()


def make_models(out: Path, dry: bool) -> dict:
    """{"stylizer": source, "wct": source}: bundles when onnx is importable, else the checkpoints."""
    from styleforge.train.stylizer.trainer import train_stylizer
    from styleforge.train.wct.trainer import WCTDecoderTrainer

    import shutil

    shutil.rmtree(out, ignore_errors=True)  # this script's own scratch folder: fresh models each run
    width, size = (0.125, 32) if dry else (1.0, 64)
    ckpt = train_stylizer(["sample:mosaic"], out / "stylizer_run", steps=1 if dry else 2, size=size, batch=1,
                          width_mult=width, progress=False)
    levels = (1,) if dry else (1, 2, 3)
    for level in levels:
        WCTDecoderTrainer(out / "wct" / f"level{level}", level=level, size=size, batch_size=1,
                          width_mult=0.125 if dry else 0.5, steps=1 if dry else 2, progress=False).fit()
    sources = {"stylizer": ckpt, "wct": out / "wct"}
    try:
        import onnx  # noqa: F401

        from styleforge.export.core.api import export_checkpoint
    except ImportError:
        print("onnx is not installed: timing the checkpoints (no ONNX Runtime rows)", flush=True)
        return sources
    golden = "32x32" if dry else None
    return {"stylizer": export_checkpoint(ckpt, out / "stylizer.sfbundle", golden_sizes=golden),
            "wct": export_checkpoint(out / "wct", out / "wct.sfbundle", golden_sizes=golden)}


def feeds_for(model: str, size: int, batch: int, n_levels: int):
    import numpy as np

    rng = np.random.default_rng(0)
    if model == "stylizer":
        return "stylize", {"image": rng.uniform(0, 255, (batch, 3, size, size)).astype(np.float32)}
    return "stylize_pair", {"content": rng.uniform(0, 255, (batch, 3, size, size)).astype(np.float32),
                            "style": rng.uniform(0, 255, (1, 3, 256, 256)).astype(np.float32),
                            "alpha": np.ones(n_levels, np.float32)}


def variants(cuda: bool) -> list[dict]:
    out = [dict(device="cpu")]
    if cuda:
        out += [dict(device="cuda"), dict(device="cuda", mode="cuda-graphs"), dict(device="cuda", fp16=True),
                dict(device="cuda", fp16=True, channels_last=True)]
    else:
        out += [dict(device="cpu", channels_last=True)]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("OUT", "torch_runner_out"))
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--json", default=None, help="file for the results (default: OUT/torch_runner_bench.json)")
    ap.add_argument("--dry-run", action="store_true", help="tiny models, 2 runs at 32 px, CPU rows only")
    args = ap.parse_args(argv)
    _import_styleforge()
    import numpy as np
    import torch

    from styleforge.export.core.torch_runner import TorchRunner
    from styleforge.runtime.latency import latency_stats, time_fn

    if args.dry_run:
        torch.set_num_threads(1)  # tiny tensors on a shared CPU machine: one thread is fastest
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available() and not args.dry_run
    if not cuda and not args.dry_run:
        print("no CUDA device: use --dry-run on a CPU machine", file=sys.stderr)
        return 2
    sizes = [32] if args.dry_run else [int(s) for s in args.sizes.split(",")]
    runs = 2 if args.dry_run else args.runs
    gpu = torch.cuda.get_device_name() if cuda else "no GPU (dry run)"
    t0 = time.perf_counter()
    sources = make_models(out / "models", args.dry_run)
    print(f"models ready in {time.perf_counter() - t0:.1f} s", flush=True)
    rows = []
    for model, source in sources.items():
        base_runner = TorchRunner(source, device="cpu", role="stylize" if model == "stylizer" else "stylize_pair")
        n_levels = len(base_runner.module.pipe.levels) if model == "wct" else 1
        for size in sizes:
            role, feeds = feeds_for(model, size, args.batch, n_levels)
            ref = base_runner.run(feeds)
            base_ms = None
            for v in variants(cuda):
                try:
                    r = base_runner if v == {"device": "cpu"} else TorchRunner(source, role=role, **v)
                    n = max(2, runs // 10) if r.device.type == "cpu" else runs
                    times = time_fn(lambda: r.run(feeds), n, 1 if r.device.type == "cpu" else 5)
                    stats = latency_stats(times, args.batch)
                    got = r.run(feeds)
                except Exception as e:  # e.g. a model CUDA graphs cannot capture: a row saying so, the rest goes on
                    rows.append({"model": model, "size": size, "batch": args.batch, "runner": str(v),
                                 "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]})
                    print(json.dumps(rows[-1]), flush=True)
                    continue
                diff = max(float(np.abs(got[k].astype(np.float64) - ref[k]).max()) for k in ref)
                base_ms = base_ms or stats["median_ms"]
                rows.append({"model": model, "size": size, "batch": args.batch, "runner": r.name, **stats,
                             "speedup_vs_cpu_eager": base_ms / stats["median_ms"], "max_abs_vs_cpu_eager": diff})
                print(json.dumps(rows[-1]), flush=True)
            if str(source).endswith(".sfbundle"):
                from styleforge.runtime.backends import open_session
                from styleforge.runtime.bundle import open_bundle

                s = open_session(open_bundle(source), role, "ort-cpu")
                times = time_fn(lambda: s.run(feeds), max(2, runs // 10), 1)
                stats = latency_stats(times, args.batch)
                diff = max(float(np.abs(s.run(feeds)[k].astype(np.float64) - ref[k]).max()) for k in ref)
                rows.append({"model": model, "size": size, "batch": args.batch, "runner": "ort-cpu", **stats,
                             "speedup_vs_cpu_eager": base_ms / stats["median_ms"], "max_abs_vs_cpu_eager": diff})
                print(json.dumps(rows[-1]), flush=True)
    head = (f"# {gpu}, torch {torch.__version__}, batch {args.batch}; median of {runs} runs on the GPU "
            f"({max(2, runs // 10)} on the CPU), numpy in and out (copies included)")
    lines = [head, f"{'model':9s} {'size':>5s}  {'runner':24s} {'median ms':>10s} {'p90 ms':>9s} {'img/s':>9s} "
                   f"{'x cpu':>7s} {'max|d|':>9s}"]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['model']:9s} {r['size']:5d}  {r['runner']:24s} failed: {r['error']}")
            continue
        lines.append(f"{r['model']:9s} {r['size']:5d}  {r['runner']:24s} {r['median_ms']:10.2f} {r['p90_ms']:9.2f} "
                     f"{r['images_per_s']:9.1f} {r['speedup_vs_cpu_eager']:7.2f} {r['max_abs_vs_cpu_eager']:9.2g}")
    table = "\n".join(lines)
    print(table)
    (out / "torch_runner_table.txt").write_text(table + "\n")
    Path(args.json or out / "torch_runner_bench.json").write_text(json.dumps({"gpu": gpu, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
