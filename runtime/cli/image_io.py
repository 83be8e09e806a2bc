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
