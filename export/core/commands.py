"""`styleforge export`: checkpoint (or run folder) → bundle, validated on ORT CPU before it replaces --out."""
from __future__ import annotations


def register(cli) -> None:
    import argparse

    p = cli.command("export", help="export a training checkpoint (or run folder) to a validated bundle")
    p.add_argument("checkpoint", help="checkpoint folder, or the run folder (its latest checkpoint is used)")
    p.add_argument("--out", required=True, help="bundle path to write, e.g. mystyle.sfbundle (an existing path must be a StyleForge "
                                              "bundle; it is replaced only once the new one has validated)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset")
    p.add_argument("--batch-dynamic", action=argparse.BooleanOptionalAction, default=True,
                   help="symbolic batch dimension in the graph")
    p.add_argument("--golden-sizes", default=None,
                   help="comma-separated HxW sizes for the golden cases (e.g. 64x64,70x90); family default otherwise")
    p.add_argument("--wct", choices=["ns", "plugin"], default="ns",
                   help="WCT bundles: portable Newton–Schulz graph, or the TensorRT plugin node")
    p.add_argument("--pgan-output", choices=["final", "native"], default="final",
                   help="Progressive GAN checkpoints taken before the last growth phase: upsample (nearest) to the final "
                        "resolution inside the graph, or export the side trained so far; the manifest says which")
    p.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript",
                   help="torch.onnx exporter: TorchScript tracing (dynamo=False), or torch.export (dynamo=True, the "
                        "default of torch.onnx.export since torch 2.9); recorded in the manifest")
    p.add_argument("--no-validate", action="store_true",
                   help="skip validation on ORT CPU (the new bundle then replaces --out once its files check out)")
    p.add_argument("--force", action="store_true",
                   help="keep a bundle that fails validation, as NAME.failed.sfbundle beside --out "
                        "(--out itself is never replaced by a failing bundle)")
    p.set_defaults(func=run_export)


def run_export(args) -> int:
    import sys

    from ...runtime.validation import format_report
    from .api import ExportValidationError, export_validated

    options = dict(opset=args.opset, batch_dynamic=args.batch_dynamic, golden_sizes=args.golden_sizes, wct=args.wct,
                   pgan_output=args.pgan_output, exporter=args.exporter)
    if args.no_validate:  # still built beside --out and checked to open before it replaces anything
        print(f"wrote {export_validated(args.checkpoint, args.out, validate=False, **options)[0]} (not validated)")
        return 0
    try:
        out, report = export_validated(args.checkpoint, args.out, backend="ort-cpu", force=args.force, **options)
    except ExportValidationError as e:
        print(format_report(e.report))
        print(f"styleforge: error: {e}", file=sys.stderr)
        return 1
    print(format_report(report))
    print(f"wrote {out} (validated on ort-cpu before it replaced anything)")
    return 0
