"""`styleforge convert`: a precision / I/O variant of a bundle (fp32 clean-up, fp16, int8; uint8 NHWC I/O), validated."""
from __future__ import annotations

import sys


def register(cli) -> None:
    p = cli.command("convert", help="precision variant of a bundle (fp32 clean-up, fp16, int8) and uint8 NHWC graph I/O",
                    description="Every graph is cleaned up (onnxslim, folds), then converted to the precision; the new "
                                "bundle keeps the parent's fp32 PyTorch golden cases, gets the precision's tolerance "
                                "profile, records its lineage and is validated on ONNX Runtime CPU (docs/deploy.md).")
    p.add_argument("bundle", help="an fp32 bundle (NAME.sfbundle)")
    p.add_argument("--precision", choices=["fp32", "fp16", "int8"], default="fp32")
    p.add_argument("--calibration", nargs="+", default=[], metavar="IMAGE_OR_FOLDER",
                   help="int8: calibration images — files, folders, sample:NAME (e.g. sample:astronaut sample:coffee "
                        "sample:chelsea sample:rocket); generators calibrate on latents and need none")
    p.add_argument("--calibration-size", type=int, default=512, help="side the calibration images are resized to")
    p.add_argument("--calibration-method", choices=["minmax", "percentile", "entropy"], default=None,
                   help="int8 activation ranges (default: the interface's recipe, docs/deploy.md)")
    p.add_argument("--io", choices=["float-nchw", "uint8-nhwc"], default="float-nchw",
                   help="uint8-nhwc: the graphs take and return H×W×3 uint8 and scale, pad and clamp themselves")
    p.add_argument("--out", required=True, help="bundle path to write, e.g. NAME-int8.sfbundle")
    p.add_argument("--no-validate", action="store_true", help="skip validating the new bundle")
    p.set_defaults(func=run_convert)


def run_convert(args) -> int:
    from ...runtime.validation import format_report
    from .api import convert_bundle

    from ..core.publish import ExportValidationError

    try:
        out, report = convert_bundle(args.bundle, args.out, precision=args.precision, calibration=args.calibration,
                                     io=args.io, calibration_size=args.calibration_size,
                                     calibration_method=args.calibration_method, validate=not args.no_validate,
                                     log=lambda msg: print(f"styleforge: {msg}", file=sys.stderr))
    except ExportValidationError as e:  # nothing replaced --out: show what failed, then the one line
        print(format_report(e.report))
        print(f"styleforge: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    if report is not None:
        print(format_report(report))
        return 0 if report["passed"] else 1
    return 0
