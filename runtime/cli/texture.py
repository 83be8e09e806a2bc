"""`styleforge texture`: texture synthesis from a WCT bundle (no torch)."""
from __future__ import annotations


def register(cli) -> None:
    p = cli.command("texture", help="synthesise a texture from a style image with a WCT bundle (colouring noise)")
    p.add_argument("bundle", help="path to a WCT bundle (NAME.sfbundle)")
    p.add_argument("--style", required=True, help="style image file, or sample:NAME")
    p.add_argument("--size", default="512", help="output size: N or HxW")
    p.add_argument("--passes", type=int, default=3, help="coarse-to-fine passes over the noise")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    p.add_argument("--out", required=True, help="output image (.png, .jpg)")
    from . import add_backend_arguments

    add_backend_arguments(p)
    p.add_argument("--threads", type=int, default=None, help="intra-op threads for ONNX Runtime")
    p.set_defaults(func=run_texture)


def _size(text: str) -> tuple[int, int]:
    from ..errors import StyleForgeError

    try:
        parts = [int(t) for t in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 16 or max(parts) > 8192:
        raise StyleForgeError(f"--size {text!r}: expected N or HxW with sides in 16..8192")
    return parts[0], parts[1]


def run_texture(args) -> int:
    from ..images import save_image
    from ..interfaces import require_command
    from ..model import load

    size = _size(args.size)
    from . import backend_options

    model = load(args.bundle, backend=args.backend, threads=args.threads, **backend_options(args))
    require_command(model, "texture", args.bundle)
    img = model.texture(args.style, size=size, passes=args.passes, seed=args.seed)
    save_image(args.out, img)
    print(f"wrote {args.out} ({size[0]}x{size[1]}, {args.passes} passes)")
    return 0
