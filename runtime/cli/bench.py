"""`styleforge bench`: latency of a bundle on a runtime backend against PyTorch eager on the same checkpoint,
in the same run. The runtime side never imports torch (``--no-torch`` skips the eager side)."""
from __future__ import annotations

import json
import sys


def register(cli) -> None:
    p = cli.command("bench", help="latency of a bundle on a runtime backend vs PyTorch eager on the same checkpoint",
                    description="Median, p90, p99 latency and images/s of the bundle's graph on the runtime backend "
                                "and of PyTorch eager on the same checkpoint (the bundle's source checkpoint, or "
                                "--checkpoint), same inputs, same run, and their ratio. --no-torch times only the "
                                "runtime and never imports torch.")
    p.add_argument("bundle", help="path to NAME.sfbundle")
    p.add_argument("--sizes", default="256,512", help="comma-separated sizes: 256 (square) or HxW")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--runs", type=int, default=20, help="timed runs per size")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    p.add_argument("--backend", default="ort-cpu", help="ort-cpu | ort-cuda | tensorrt | auto")
    p.add_argument("--threads", type=int, default=None, help="threads for both ONNX Runtime and torch (default: each one's default)")
    p.add_argument("--checkpoint", default=None, help="checkpoint for the eager side (default: the bundle's source checkpoint)")
    p.add_argument("--no-torch", action="store_true", help="time the runtime only (torch is not imported)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    p.set_defaults(func=run_bench)


def run_bench(args) -> int:
    from ..atomic import write_text

    from ..latency import benchmark_bundle, format_bench

    report = benchmark_bundle(args.bundle, sizes=args.sizes, batch=args.batch, runs=args.runs, warmup=args.warmup,
                              backend=args.backend, threads=args.threads, with_torch=not args.no_torch,
                              checkpoint=args.checkpoint)
    print(format_bench(report))
    if args.json:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
