"""`styleforge demo` (argparse only at import time). `styleforge train stylizer` is generated from
:class:`~styleforge.train.stylizer.options.StylizerOptions` (train/core/commands.py)."""
from __future__ import annotations


def register(cli) -> None:
    p = cli.command("demo", help="train a small stylizer on the bundled photos, export, validate, stylize, benchmark; write report.html",
                    description="The whole path on this machine: train a small stylizer on the bundled sample photos "
                                "toward the bundled mosaic texture, export a bundle, validate it on ONNX Runtime, "
                                "stylize the photos with the lean runtime, benchmark against PyTorch eager, and write "
                                "DIR/report.html.")
    p.add_argument("--out", default="styleforge-demo", help="output folder")
    p.add_argument("--steps", type=int, default=None, help="training steps; None = 300 (4 with --quick)")
    p.add_argument("--size", type=int, default=None, help="training crop size; None = 128 (32 with --quick)")
    p.add_argument("--style", default=None, help="style image; None = sample:mosaic")
    p.add_argument("--quick", action="store_true", help="a seconds-long run at tiny sizes (for tests)")
    p.set_defaults(func=run_demo)


def run_demo(args) -> int:
    from .demo import run_demo as demo

    report = demo(args.out, steps=args.steps, size=args.size, style=args.style, quick=args.quick)
    print(f"wrote {report}")
    return 0

