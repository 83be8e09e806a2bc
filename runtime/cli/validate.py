"""`styleforge validate`: run a bundle's golden inputs on a backend and compare with the stored reference
outputs (no torch)."""
from __future__ import annotations

import json
import sys


def register(cli) -> None:
    p = cli.command("validate", help="run a bundle's golden inputs on a backend and compare with the stored PyTorch outputs")
    p.add_argument("bundle", help="path to NAME.sfbundle")
    p.add_argument("--backend", default="ort-cpu", help="ort-cpu | ort-cuda | tensorrt | auto")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads for ONNX Runtime")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    p.add_argument("--no-write", action="store_true", help="do not store the report inside the bundle")
    p.set_defaults(func=run_validate)


def run_validate(args) -> int:
    from ..validation import format_report, validate_bundle

    report = validate_bundle(args.bundle, backend=args.backend, write_report=not args.no_write, threads=args.threads)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    if not report["passed"]:
        print("styleforge: validation failed", file=sys.stderr)
    return 0 if report["passed"] else 1
