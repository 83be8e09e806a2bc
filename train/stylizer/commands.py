"""`styleforge train stylizer`, `styleforge bench`, `styleforge demo` (argparse only at import time)."""
from __future__ import annotations

import json
import sys


def register(cli) -> None:
    from ..stylizer_defaults import DEFAULTS

    p = cli.command("stylizer", group="train",
                    help="train a feed-forward stylizer (Johnson et al. 2016; several styles by conditional instance norm)",
                    description="Train a feed-forward stylizer: one --style per style index (conditional instance norm "
                                "when several). Content: --content-dir, or the bundled sample photos. Loss network: "
                                "VGG16 (content relu2_2; style relu1_2, relu2_2, relu3_3, relu4_3), random(seed=0) "
                                "weights unless --vgg-weights. Checkpoints and previews go under --out.")
    p.add_argument("--style", action="append", required=True, metavar="IMG",
                   help="style image (file or sample:NAME, e.g. sample:mosaic); repeat for several styles")
    p.add_argument("--out", required=True, help="run folder (checkpoints/, previews/, run.json)")
    p.add_argument("--content-dir", default=None, help="folder of content images; None = the bundled sample photos")
    p.add_argument("--steps", type=int, default=DEFAULTS["steps"], help="optimiser steps in all")
    p.add_argument("--size", type=int, default=DEFAULTS["size"], help="training crop size (multiple of 4)")
    p.add_argument("--batch", type=int, default=DEFAULTS["batch"], help="images per step")
    p.add_argument("--content-weight", type=float, default=DEFAULTS["content_weight"], help="weight of the relu2_2 feature loss")
    p.add_argument("--style-weight", type=float, default=DEFAULTS["style_weight"], help="weight of the Gram (style) loss")
    p.add_argument("--tv-weight", type=float, default=DEFAULTS["tv_weight"], help="weight of total variation on the [0,1] output")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="Adam learning rate")
    p.add_argument("--style-size", type=int, default=None, help="longer side of the style images; None = --size")
    p.add_argument("--vgg-weights", default=None, metavar="PATH",
                   help="VGG16 weights (torchvision .pth state dict or .safetensors); None = random(seed=0)")
    p.add_argument("--width-mult", type=float, default=DEFAULTS["width_mult"], help="channel multiplier (0.125 for tests)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="seed of the weights, crops and style draws")
    p.add_argument("--resume", action="store_true", help="continue from the run's latest checkpoint (optimiser state too)")
    p.add_argument("--checkpoint-every", type=int, default=DEFAULTS["checkpoint_every"], help="steps between checkpoints")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)

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


def run_train(args) -> int:
    from ..stylizer_trainer import train_stylizer

    ckpt = train_stylizer(args.style, args.out, content_dir=args.content_dir, steps=args.steps, size=args.size,
                          batch=args.batch, content_weight=args.content_weight, style_weight=args.style_weight,
                          tv_weight=args.tv_weight, lr=args.lr, style_size=args.style_size,
                          vgg_weights=args.vgg_weights, width_mult=args.width_mult, seed=args.seed,
                          resume=args.resume, checkpoint_every=args.checkpoint_every, progress=not args.no_progress)
    print(f"wrote {ckpt}")
    return 0


def run_bench(args) -> int:
    from ...export.benchmark import benchmark_bundle, format_bench
    from ...runtime.atomic import write_text

    report = benchmark_bundle(args.bundle, sizes=args.sizes, batch=args.batch, runs=args.runs, warmup=args.warmup,
                              backend=args.backend, threads=args.threads, with_torch=not args.no_torch,
                              checkpoint=args.checkpoint)
    print(format_bench(report))
    if args.json:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def run_demo(args) -> int:
    from ..demo import run_demo as demo

    report = demo(args.out, steps=args.steps, size=args.size, style=args.style, quick=args.quick)
    print(f"wrote {report}")
    return 0

