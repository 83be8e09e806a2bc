"""`styleforge translate`: run an image-to-image bundle (pix2pix, CycleGAN) on images (no torch)."""
from __future__ import annotations

from .image_io import (IO_EPILOG, add_any_size_arguments, add_image_io_arguments, open_for_images, run_video,
                       tiling_options, work_check)

TRANSLATE_EPILOG = IO_EPILOG + """ Images of any size are accepted: each is reflect-padded to the bundle's size
multiple (see `size_constraints` in its manifest), translated, and cropped back to its own size.
All inputs are read and checked before anything is written: a bad input (missing, empty, not an
image, truncated, absurd size) prints one line naming the file and the reason, writes nothing,
and exits with code 2.
"""


def register(cli) -> None:
    import argparse

    p = cli.command("translate", help="translate images with a pix2pix or CycleGAN bundle (no torch)")
    p.epilog = TRANSLATE_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    add_image_io_arguments(p, bundle_help="path to NAME.sfbundle (interface: translator)")
    p.add_argument("--reverse", action="store_true", help="CycleGAN bundles: translate B → A instead of A → B")
    add_any_size_arguments(p)
    p.set_defaults(func=run_translate)


def run_translate(args) -> int:
    from ..images import load_image, save_image, to_hwc_uint8, to_nchw_float

    model, inputs, outs, _, video = open_for_images(args, "translate")
    if video:
        return run_video(args, lambda frames: to_hwc_uint8(model.translate_raw(to_nchw_float(frames), reverse=args.reverse)))
    role = "translate_reverse" if args.reverse else "translate"
    check = work_check(args, model, role)
    images = [load_image(src, max_side=args.max_side, check=lambda w, h, src=src: check(w, h, str(src)))
              for src in inputs]  # every input checked before any output
    results = [model.translate_tiled(img, reverse=args.reverse, **tiling) if (tiling := tiling_options(args, model, role, img))
               else model.translate([img], reverse=args.reverse)[0] for img in images]
    for src, dst, res in zip(inputs, outs, results):
        save_image(dst, res)
        print(f"{src} -> {dst}")
    return 0
