"""`styleforge import-onnx`: a bundle around an ONNX image model StyleForge did not train (api.py)."""
from __future__ import annotations


def register(cli) -> None:
    from ...runtime.interfaces import interfaces_with

    p = cli.command("import-onnx", help="wrap an ONNX image model StyleForge did not train as a bundle",
                    description="Say what the graph cannot: its interface, value range, layout, size multiple, which "
                                "input/output are the image, inputs held fixed and a style-vector input. Golden cases "
                                "are the original graph's outputs on ONNX Runtime (reference 'imported'); convert, "
                                "validate, stylize, translate, generate and bench then work on it (docs/deploy.md).")
    p.add_argument("model", help="MODEL.onnx")
    p.add_argument("--interface", required=True, choices=interfaces_with(lambda s: s.import_names))
    p.add_argument("--out", required=True, help="bundle path to write, NAME.sfbundle")
    p.add_argument("--range", default="0,255", choices=["0,255", "0,1", "-1,1"], dest="value_range",
                   help="value range of the graph's images (input and output)")
    p.add_argument("--layout", choices=["NCHW", "NHWC"], default=None, help="image layout (default: from the shape)")
    p.add_argument("--multiple-of", type=int, default=1, metavar="N",
                   help="H and W must be multiples of N (the runtime reflect-pads and crops)")
    p.add_argument("--input", default=None, metavar="NAME", help="the image (or latent) input, when there are several")
    p.add_argument("--output", default=None, metavar="NAME", help="the image output, when there are several")
    p.add_argument("--const", action="append", default=[], metavar="NAME=FILE.npy", help="an extra input held fixed")
    p.add_argument("--style-vector", default=None, metavar="NAME",
                   help="an extra input that selects or blends styles ([S] or [batch, S]); fed from "
                        "stylize --style-index K (one-hot) or --style-weights a,b,… (a blend)")
    p.add_argument("--name", default=None, help="model name (default: from --out)")
    p.add_argument("--no-validate", action="store_true")
    p.set_defaults(func=run_import)


def run_import(args) -> int:
    import sys

    from ...runtime.errors import StyleForgeError
    from ...runtime.validation import format_report
    from .api import import_onnx

    consts = {}
    for item in args.const:
        k, sep, v = item.partition("=")
        if not sep or not k or not v:
            raise StyleForgeError(f"--const {item!r}: expected NAME=FILE.npy")
        consts[k] = v
    from ..core.publish import ExportValidationError

    try:
        out, report = import_onnx(args.model, args.out, interface=args.interface, value_range=args.value_range,
                                  layout=args.layout, multiple_of=args.multiple_of, input_name=args.input,
                                  output_name=args.output, consts=consts, style_vector=args.style_vector, name=args.name,
                                  validate=not args.no_validate)
    except ExportValidationError as e:  # nothing replaced --out: show what failed, then the one line
        print(format_report(e.report))
        print(f"styleforge: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    if report is not None:
        print(format_report(report))
        return 0 if report["passed"] else 1
    return 0
