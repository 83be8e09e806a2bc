"""`styleforge bench`: latency of one or more bundles on runtime backends against PyTorch, in the same run
(runtime/latency.py). The runtime side never imports torch (``--no-torch`` skips the PyTorch rows)."""
from __future__ import annotations

import json
import sys


def register(cli) -> None:
    p = cli.command("bench", help="latency of bundles on runtime backends vs PyTorch, in one run",
                    description="Every bundle × backend × size, timed interleaved on the same picture, the interface "
                                "call a user makes (pre/post-processing included); PyTorch eager on the first bundle's "
                                "source checkpoint (WCT: the PytorchWCT-style exact pipeline); PSNR of each row's "
                                "output against the first bundle's. Unavailable backends get a row saying why.")
    p.add_argument("bundles", nargs="+", metavar="BUNDLE", help="bundles to compare (the first is the PSNR reference)")
    p.add_argument("--sizes", default="256,512", help="comma-separated sizes: 256 (square) or HxW")
    p.add_argument("--backends", default="ort-cpu",
                   help="comma-separated: ort-cpu, openvino, ort-cuda, ort-trt, tensorrt, auto, torch-eager, torch-cuda")
    from . import add_host_code_argument, add_runner_option_argument

    add_host_code_argument(p)
    add_runner_option_argument(p)
    p.add_argument("--threads", type=int, default=None, help="threads for ONNX Runtime and torch (default: each one's)")
    p.add_argument("--runs", type=int, default=10, help="timed runs per row")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    p.add_argument("--checkpoint", default=None, help="checkpoint for the PyTorch rows (default: the first bundle's source)")
    p.add_argument("--no-torch", action="store_true", help="no PyTorch rows (torch is not imported)")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                   help='print {"rows": [...]} as JSON instead of the table (or write it to FILE)')
    p.add_argument("--plot", default=None, metavar="FILE.png", help="draw latency against size for every row")
    p.set_defaults(func=run_bench)


def run_bench(args) -> int:
    from ..atomic import write_text
    from ..errors import StyleForgeError
    from ..latency import benchmark, format_bench, plot_bench
    from . import backend_options

    if args.json not in (None, "-") and (args.json.endswith(".sfbundle") or __import__("os").path.isdir(args.json)):
        raise StyleForgeError(f"--json {args.json}: that is a bundle; put --json after the bundles or give a .json file")
    report = benchmark(args.bundles, sizes=args.sizes, threads=args.threads, backends=args.backends, runs=args.runs,
                       warmup=args.warmup, with_torch=not args.no_torch, checkpoint=args.checkpoint,
                       options=backend_options(args))
    text = json.dumps(report, indent=2) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
    else:
        print(format_bench(report))
        if args.json:
            write_text(args.json, text)
            print(f"wrote {args.json}", file=sys.stderr)
    if args.plot:
        plot_bench(report, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
