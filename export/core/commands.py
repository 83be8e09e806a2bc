"""`styleforge export`: checkpoint (or run folder) → bundle, validated on ORT CPU afterwards."""
from __future__ import annotations


def register(cli) -> None:
    p = cli.command("export", help="export a training checkpoint (or run folder) to a validated bundle")
    p.add_argument("checkpoint", help="checkpoint folder, or the run folder (its latest checkpoint is used)")
    p.add_argument("--out", required=True, help="bundle path to write, e.g. mystyle.sfbundle")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset")
    p.add_argument("--batch-dynamic", action=__import__("argparse").BooleanOptionalAction, default=True,
                   help="symbolic batch dimension in the graph")
    p.add_argument("--golden-sizes", default=None,
                   help="comma-separated HxW sizes for the golden cases (e.g. 64x64,70x90); family default otherwise")
    p.add_argument("--wct", choices=["ns", "plugin"], default="ns",
                   help="WCT bundles: portable Newton–Schulz graph, or the TensorRT plugin node")
    p.add_argument("--no-validate", action="store_true", help="skip validating the bundle on ORT CPU after export")
    p.set_defaults(func=run_export)


def run_export(args) -> int:
    from ...runtime.validation import format_report, validate_bundle
    from .api import export_checkpoint

    out = export_checkpoint(args.checkpoint, args.out, opset=args.opset, batch_dynamic=args.batch_dynamic,
                            golden_sizes=args.golden_sizes, wct=args.wct)
    print(f"wrote {out}")
    if not args.no_validate:
        report = validate_bundle(out, backend="ort-cpu", record=True)
        print(format_report(report))
        return 0 if report["passed"] else 1
    return 0
