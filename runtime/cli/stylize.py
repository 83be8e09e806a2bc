"""`styleforge stylize`: stylize image files or folders with a stylizer or WCT bundle (no torch)."""
from __future__ import annotations

import sys

from .image_io import (IO_EPILOG, add_any_size_arguments, add_image_io_arguments, open_for_images, run_video,
                       tiling_options, work_check)

STYLIZE_EPILOG = IO_EPILOG + """ A bad input (missing, empty, not an image, truncated, absurd size) prints one
line naming the file and the reason and writes nothing for it; with several inputs the others
are still stylized and the exit code is 1 at the end. Exit code 2: the bundle or an option is bad.
"""


def register(cli) -> None:
    import argparse

    from . import float_list

    p = cli.command("stylize", help="stylize image files or folders with a bundle (no torch)")
    p.epilog = STYLIZE_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    add_image_io_arguments(p)
    p.add_argument("--style-index", type=int, default=None, metavar="K",
                   help="style of a multi-style bundle (0-based; default 0)")
    p.add_argument("--style-weights", type=float_list, default=None, metavar="A,B,...",
                   help="a blend of the styles, one weight per style (bundles whose graph takes a style vector, "
                        "e.g. import-onnx --style-vector)")
    p.add_argument("--preserve-color", choices=["luminance", "histogram"], default=None,
                   help="keep the content's colours: luminance-only transfer, or Reinhard colour statistics")
    p.add_argument("--style", default=None, help="style image, for bundles that take one at run time (WCT)")
    p.add_argument("--alpha", type=float, default=None, help="style strength in [0, 1] (WCT bundles)")
    p.add_argument("--photo-smooth", choices=["fast", "exact"], default=None, help="PhotoWCT smoothing (WCT bundles)")
    add_any_size_arguments(p)
    p.set_defaults(func=run_stylize)


def run_stylize(args) -> int:
    from ..errors import ImageError, StyleForgeError
    from ..images import load_image, save_image

    model, inputs, outs, several, video = open_for_images(args, "stylize")
    # Only options given on the command line reach the model: each family checks what applies to it
    # (WCT bundles take --style/--alpha/--photo-smooth; a feed-forward stylizer refuses them clearly).
    extra = {k: v for k, v in (("style_index", args.style_index), ("style_weights", args.style_weights),
                               ("preserve_color", args.preserve_color),
                               ("style", args.style), ("alpha", args.alpha), ("photo_smooth", args.photo_smooth))
             if v is not None}
    if video:
        if hasattr(model, "stylize_batch"):  # one graph run per frame batch where the interface has one
            return run_video(args, lambda frames: model.stylize_batch(frames, **extra))
        return run_video(args, lambda frames: [model(f, **extra) for f in frames])
    failed = 0
    check = work_check(args, model, "stylize")  # a bundle without tiling graphs for it runs untiled
    for src, dst in zip(inputs, outs):
        try:
            image = load_image(src, max_side=args.max_side, check=lambda w, h: check(w, h, str(src)))
        except ImageError as e:
            if not several:
                raise
            print(f"styleforge: error: {e}", file=sys.stderr)
            failed += 1
            continue
        tiles = "stylize" in model.spec.tiled_roles
        tiling = tiling_options(args, model, "stylize", image) if tiles else None
        if tiling is None and (args.tile or args.exact_stats) and not tiles:
            raise StyleForgeError(f"{args.bundle}: --tile is for feed-forward stylizer bundles")
        result = model.stylize_tiled(image, **extra, **tiling) if tiling else model(image, **extra)
        save_image(dst, result)
        print(f"{src} -> {dst}")
    if failed:
        print(f"styleforge: {failed} of {len(inputs)} input(s) failed", file=sys.stderr)
        return 1
    return 0
