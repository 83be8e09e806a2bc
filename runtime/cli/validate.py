"""`styleforge validate`: run a bundle's golden inputs on a runner and compare with the stored reference
outputs, or with another runner (``--against``); no torch. Read-only unless ``--record``."""
from __future__ import annotations

import json
import sys


def register(cli) -> None:
    import argparse

    from . import add_backend_arguments

    p = cli.command("validate", help="run a bundle's golden inputs on a backend and compare with the stored outputs "
                                     "or with another backend",
                    description="Golden ↔ backend (default) or backend ↔ backend (--against B), per output, against "
                                "the bundle's tolerance profile for the backend (cpu-fp32, gpu-tf32, fp16, int8). Cases "
                                "a backend cannot run are listed as skipped. Exit 0 only on pass. The bundle is not "
                                "modified unless --record.")
    p.add_argument("bundle", help="path to NAME.sfbundle")
    add_backend_arguments(p, default="ort-cpu")
    p.add_argument("--against", default=None, metavar="BACKEND",
                   help="compare with this backend's outputs on the golden inputs instead of the stored ones")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads for ONNX Runtime")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    p.add_argument("--record", action="store_true",
                   help="store the report inside the bundle (validation-BACKEND.json and the manifest's validation map)")
    p.add_argument("--no-write", action="store_true", help=argparse.SUPPRESS)  # 0.1: writing is now opt-in (--record)
    p.set_defaults(func=run_validate)


def run_validate(args) -> int:
    from ..validation import format_report, validate_bundle
    from . import backend_options

    report = validate_bundle(args.bundle, backend=args.backend, against=args.against,
                             record=args.record and not args.no_write, threads=args.threads, **backend_options(args))
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    if not report["passed"]:
        print("styleforge: validation failed", file=sys.stderr)
    return 0 if report["passed"] else 1
