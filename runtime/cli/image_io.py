"""What the image commands (stylize, translate) share: their input/output arguments, and the plan of
which file goes where, checked before any model is loaded."""
from __future__ import annotations

IO_EPILOG = """\
INPUT may be image files or folders (their images, not recursive). With one input image --out is
the output file; with several, --out is a folder (created) and each result is saved as
<stem>.png there."""


def add_image_io_arguments(p, *, bundle_help: str = "path to NAME.sfbundle") -> None:
    """bundle, INPUT…, --out, --max-side, --backend, -v, --threads: the arguments every image command takes."""
    p.add_argument("bundle", help=bundle_help)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders")
    p.add_argument("--out", required=True, help="output file (one input) or folder (several)")
    p.add_argument("--max-side", type=int, default=None, metavar="PX", help="downsize inputs so the longer side fits")
    from . import add_backend_arguments

    add_backend_arguments(p)
    p.add_argument("--threads", type=int, default=None, help="intra-op threads for ONNX Runtime")
    from ..budget import CLI_MAX_PIXELS
    from . import positive_int

    p.add_argument("--max-pixels", type=positive_int, default=CLI_MAX_PIXELS, metavar="N",
                   help="refuse an image whose work — pixels after padding to the bundle's size rule and tiling — is "
                        f"over N, from its header before decoding (default {CLI_MAX_PIXELS})")


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


def add_any_size_arguments(p) -> None:
    """--tile, --tile-overlap, --stats-pixels, --exact-stats (images of any size) and --batch, --smoothing (video)."""
    g = p.add_argument_group("images of any size (runtime/tiling.py; automatic above 2048x2048 where the bundle has "
                             "tiling graphs)")
    g.add_argument("--tile", type=int, default=None, metavar="PX", help="run in PX-sized tiles (e.g. 512): memory stays flat")
    g.add_argument("--tile-overlap", type=int, default=None, metavar="PX",
                   help="blend width between tiles (default 32, or a quarter of a smaller tile)")
    g.add_argument("--stats-pixels", type=int, default=None, metavar="N",
                   help="pixels of the downscaled pass that gives the tiles their shared normalisation statistics "
                        "(default 1048576)")
    g.add_argument("--fit", choices=["tiles", "resize"], default=None,
                   help="a graph of one fixed size (import-onnx): run other sizes in overlapping windows of its size "
                        "(tiles, default) or resized to it and back (resize); runtime/fixed_size.py")
    g.add_argument("--exact-stats", action="store_true",
                   help="full-resolution statistics over tiles, layer by layer: untiled-identical, ~one tiled pass "
                        "per norm layer")
    v = p.add_argument_group("video inputs (.mp4 .mov .webm .mkv .m4v; needs the video extra)")
    v.add_argument("--batch", type=int, default=8, help="frames per model run (default 8)")
    v.add_argument("--smoothing", type=float, default=0.0, metavar="S",
                   help="temporal smoothing: output = (1-S)·frame + S·previous output (0: off)")
    v.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def tiling_options(args, model, role: str, image) -> dict | None:
    """The tiling options for this image, or None to run it whole: tiled when --tile is given, or automatically
    above AUTO_TILE_PIXELS when the bundle has tiling graphs for `role`."""
    from ..errors import StyleForgeError
    from ..tiling import AUTO_TILE_PIXELS, STATS_PIXELS

    tile = args.tile
    if tile is None and (args.exact_stats or args.stats_pixels):
        tile = 512
    if tile is None and image.shape[0] * image.shape[1] > AUTO_TILE_PIXELS and model.can_tile(role):
        tile = 512
    if tile is None:
        return None
    if not model.can_tile(role):
        raise StyleForgeError(f"{args.bundle}: --tile: this bundle has no tiling graphs for {role!r} "
                              "(add them with `styleforge tiling add BUNDLE`)")
    return {"tile": tile, "overlap": args.tile_overlap, "stats_pixels": args.stats_pixels or STATS_PIXELS,
            "exact_stats": args.exact_stats}


def run_video(args, frames_fn) -> int:
    """One video input → one video output through ``frames_fn(list of frames) → list of frames``."""
    from ..errors import StyleForgeError
    from ..video import is_video, process_video

    if len(args.inputs) != 1 or not is_video(args.inputs[0]):
        raise StyleForgeError("a video is processed on its own: give one video INPUT (and no images with it)")
    if not is_video(args.out):
        raise StyleForgeError(f"--out {args.out}: a video input needs a video output (.mp4, .mov, .webm, .mkv, .m4v)")
    report = process_video(args.inputs[0], args.out, frames_fn, batch=args.batch, smoothing=args.smoothing,
                           progress=args.progress)
    w, h = report["size"]
    print(f"{args.inputs[0]} -> {args.out} ({report['frames']} frames, {w}x{h}, {report['fps']} fps, audio: {report['audio']})")
    return 0


def open_for_images(args, command: str):
    """What every image command does first: plan inputs and outputs (videos are planned by run_video), then load
    the bundle and refuse one whose runtime interface does not run `command` (its spec's ``commands``), naming the
    command that does. Returns (model, inputs, outputs, several, video)."""
    from pathlib import Path

    from ..artefacts import check_not_input
    from ..interfaces import require_command
    from ..model import load
    from ..video import is_video

    video = any(is_video(i) for i in args.inputs)
    inputs, outs, several = ([], [], False) if video else plan_io(args.inputs, args.out, args.max_side)
    # `stylize b h.png --out h.png` would replace the photo (also a video, or the --style image); an input folder
    # may be --out (the outputs get names no input has)
    styles = getattr(args, "style", None) or []  # stylize --style may be given several times
    styles = [styles] if isinstance(styles, str) else list(styles)
    files = [i for i in [*args.inputs, *styles] if i is not None and not Path(i).is_dir()]
    check_not_input(args.out, files, nested=False)
    from . import backend_options

    model = load(args.bundle, backend=args.backend, threads=args.threads, **backend_options(args))
    require_command(model, command, args.bundle)
    return model, inputs, outs, several, video


def work_check(args, model, role: str):
    """``check(width, height)`` for :func:`~styleforge.runtime.images.load_image`: refuses (one line) an image whose
    work under this command's tiling options is over ``--max-pixels`` (runtime/budget.py), before it is decoded."""
    from ..budget import Budget, Geometry, plan_work

    geo = Geometry.of(model.manifest, role)
    budget = Budget(max_pixels=args.max_pixels, max_run_pixels=None)
    tile = getattr(args, "tile", None)
    if tile is None and (getattr(args, "exact_stats", False) or getattr(args, "stats_pixels", None)):
        tile = 512

    def check(w: int, h: int, what: str) -> None:
        work = plan_work(h, w, geo, tile=tile, overlap=getattr(args, "tile_overlap", None),
                         exact_stats=getattr(args, "exact_stats", False), stats_pixels=getattr(args, "stats_pixels", None),
                         fit=getattr(args, "fit", None))
        budget.check(work, what, where=" (--max-pixels)")

    return check
