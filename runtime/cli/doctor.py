"""`styleforge doctor [BUNDLE]`: versions, the GPU, which runners work here and why not the others; for a
bundle, which runner auto picks per graph and which engines load on this machine (no torch)."""
from __future__ import annotations


def register(cli) -> None:
    p = cli.command("doctor", help="what this machine can run: versions, GPU, usable runners, a bundle's engines",
                    description="Prints the versions of Python, numpy, onnxruntime (and its providers), torch, "
                                "tensorrt and cuda-python; the GPU and its compute capability; which runners are "
                                "usable here and why not the others; with BUNDLE, which runner auto picks for each "
                                "graph and which of its TensorRT engines load here.")
    p.add_argument("bundle", nargs="?", default=None, help="a bundle to check (optional)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_doctor)


def run_doctor(args) -> int:
    import json

    from ..doctor import doctor, format_doctor

    report = doctor(args.bundle)
    print(json.dumps(report, indent=2) if args.json else format_doctor(report))
    return 0
