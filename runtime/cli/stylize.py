"""Runtime subcommands (no torch): validate, stylize, … Each imports what it needs when it runs."""
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
    register_stylize(cli)


def run_validate(args) -> int:
    from ..validation import format_report, validate_bundle

    report = validate_bundle(args.bundle, backend=args.backend, write_report=not args.no_write, threads=args.threads)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    if not report["passed"]:
        print("styleforge: validation failed", file=sys.stderr)
    return 0 if report["passed"] else 1


# --- stylize (feed-forward stylizer bundles, and any family whose model(image, ...) returns an image) -------------

STYLIZE_EPILOG = """\
INPUT may be image files or folders (their images, not recursive). With one input image --out is
the output file; with several, --out is a folder (created) and each result is saved as
<stem>.png there. A bad input (missing, empty, not an image, truncated, absurd size) prints one
line naming the file and the reason and writes nothing for it; with several inputs the others
are still stylized and the exit code is 1 at the end. Exit code 2: the bundle or an option is bad.
"""


def register_stylize(cli) -> None:
    import argparse

    p = cli.command("stylize", help="stylize image files or folders with a bundle (no torch)")
    p.epilog = STYLIZE_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("bundle", help="path to NAME.sfbundle")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders")
    p.add_argument("--out", required=True, help="output file (one input) or folder (several)")
    p.add_argument("--max-side", type=int, default=None, metavar="PX", help="downsize inputs so the longer side fits")
    p.add_argument("--style-index", type=int, default=None, metavar="K",
                   help="style of a multi-style bundle (0-based; default 0)")
    p.add_argument("--backend", default="auto", help="auto | ort-cpu | ort-cuda | tensorrt")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads for ONNX Runtime")
    p.add_argument("--preserve-color", choices=["luminance", "histogram"], default=None,
                   help="keep the content's colours: luminance-only transfer, or Reinhard colour statistics")
    p.add_argument("--style", default=None, help="style image, for bundles that take one at run time (WCT)")
    p.add_argument("--alpha", type=float, default=None, help="style strength in [0, 1] (WCT bundles)")
    p.add_argument("--photo-smooth", choices=["fast", "exact"], default=None, help="PhotoWCT smoothing (WCT bundles)")
    p.set_defaults(func=run_stylize)


def _output_paths(inputs, out, several: bool):
    from pathlib import Path

    if not several:
        return [Path(out)]
    out = Path(out)
    if out.exists() and not out.is_dir():
        from ..errors import StyleForgeError

        raise StyleForgeError(f"--out {out}: several inputs need a folder, and this is a file")
    used, paths = set(), []
    resolved_inputs = {p.resolve() for p in inputs}
    for p in inputs:
        stem, k = p.stem, 1
        cand = out / f"{stem}.png"
        while cand in used or cand.resolve() in resolved_inputs:
            k += 1
            cand = out / f"{stem}-{k}.png"
        used.add(cand)
        paths.append(cand)
    return paths


def plan_io(raw_inputs, out, max_side=None):
    """(input paths, output paths, several) for an image command: files and folders in; one output
    file for one input, else a folder. Checks --out and --max-side before any model is loaded."""
    from pathlib import Path

    from ..errors import StyleForgeError
    from ..images import IMAGE_SUFFIXES, MIN_SIDE, list_images

    if max_side is not None and max_side < MIN_SIDE:
        raise StyleForgeError(f"--max-side {max_side}: must be at least {MIN_SIDE} pixels")
    inputs = list_images(raw_inputs)
    several = len(inputs) > 1 or any(Path(i).is_dir() for i in raw_inputs)
    if not several and Path(out).suffix.lower() not in IMAGE_SUFFIXES:
        raise StyleForgeError(f"--out {out}: one input needs an image file name (.png, .jpg, ...)")
    return inputs, _output_paths(inputs, out, several), several


def run_stylize(args) -> int:
    from ..errors import ImageError
    from ..images import load_image, save_image
    from ..model import load

    inputs, outs, several = plan_io(args.inputs, args.out, args.max_side)
    model = load(args.bundle, backend=args.backend, threads=args.threads)
    # Only options given on the command line reach the model: each family checks what applies to it
    # (WCT bundles take --style/--alpha/--photo-smooth; a feed-forward stylizer refuses them clearly).
    extra = {k: v for k, v in (("style_index", args.style_index), ("preserve_color", args.preserve_color),
                               ("style", args.style), ("alpha", args.alpha), ("photo_smooth", args.photo_smooth))
             if v is not None}
    failed = 0
    for src, dst in zip(inputs, outs):
        try:
            image = load_image(src, max_side=args.max_side)
        except ImageError as e:
            if not several:
                raise
            print(f"styleforge: error: {e}", file=sys.stderr)
            failed += 1
            continue
        result = model(image, **extra)
        save_image(dst, result)
        print(f"{src} -> {dst}")
    if failed:
        print(f"styleforge: {failed} of {len(inputs)} input(s) failed", file=sys.stderr)
        return 1
    return 0
