"""Runtime subcommands for generator bundles (no torch): generate, latent interpolate|arithmetic|dissect."""
from __future__ import annotations


def _seeds(text: str) -> list[int]:
    import argparse

    try:
        out = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, part)
                out.extend(range(int(lo), int(hi) + 1))
            else:
                out.append(int(part))
        return out
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 1,2,5 or 10-14, got {text!r}") from None


def _common(p, label=True):
    p.add_argument("bundle", help="generator bundle (dcgan, wgan, wgan-gp, cgan, pgan)")
    from . import add_backend_arguments

    add_backend_arguments(p)
    if label:
        p.add_argument("--label", type=int, default=None, help="class index for conditional (cgan) bundles")


def register(cli) -> None:
    p = cli.command("generate", help="sample a grid of images from a generator bundle")
    _common(p)
    p.add_argument("--n", type=int, default=16, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="latents: default_rng(seed).standard_normal((n, nz))")
    p.add_argument("--ncols", type=int, default=None, help="grid columns (default: square)")
    p.add_argument("--scale", type=int, default=None, help="nearest-neighbour upscaling per image (default: to >= 64 px)")
    p.add_argument("--out", required=True, help="grid image (.png/.jpg)")
    p.set_defaults(func=run_generate)

    p = cli.command("interpolate", group="latent", help="interpolation strip between the latents of seeds")
    _common(p)
    p.add_argument("--seeds", type=_seeds, required=True, help="e.g. 1,2 (or 1,2,3 for a path)")
    p.add_argument("--steps", type=int, default=8, help="frames per segment, ends included")
    p.add_argument("--slerp", action="store_true", help="spherical instead of linear interpolation")
    p.add_argument("--out", required=True, help="strip image")
    p.set_defaults(func=run_interpolate)

    p = cli.command("arithmetic", group="latent", help="mean latent of A − mean of B + mean of C")
    _common(p)
    p.add_argument("--a", type=_seeds, required=True, help="seeds of set A (e.g. smiling woman)")
    p.add_argument("--b", type=_seeds, required=True, help="seeds of set B (neutral woman)")
    p.add_argument("--c", type=_seeds, required=True, help="seeds of set C (neutral man)")
    p.add_argument("--variations", type=int, default=7, help="extra results with uniform ±0.25 latent noise")
    p.add_argument("--out", required=True, help="grid image: rows A, B, C (samples | mean), then the results")
    p.set_defaults(func=run_arithmetic)

    p = cli.command("dissect", group="latent",
                    help="rank a layer's units by correlation with a mask region; regenerate with them ablated or boosted")
    _common(p)
    p.add_argument("--layer", required=True, help="dissectable layer (blockK; listed in the error message if wrong)")
    p.add_argument("--mask", required=True, help="mask image, white = region (any size; resized to the layer)")
    p.add_argument("--samples", type=int, default=200, help="samples over which activations are correlated")
    p.add_argument("--top", type=int, default=10, help="units to ablate or boost")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--ablate", action="store_true", help="zero the top units (the default)")
    g.add_argument("--boost", type=float, default=None, help="multiply the top units by this factor instead")
    p.add_argument("--show", type=int, default=8, help="samples shown before/after")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder (before_after.png, units.json, units.png, mask.png)")
    p.set_defaults(func=run_dissect)


def _load(args):
    from ..interfaces import require_command
    from ..model import load

    from . import backend_options

    model = load(args.bundle, backend=args.backend, **backend_options(args))
    require_command(model, "generate", args.bundle)
    return model


def run_generate(args) -> int:
    from ..errors import StyleForgeError
    from ..images import make_grid, save_image, to_hwc_uint8

    if args.n <= 0:
        raise StyleForgeError(f"--n must be positive, got {args.n}")
    model = _load(args)
    raw = model.generate_raw(model.sample_latents(args.n, args.seed), args.label)
    tiles = to_hwc_uint8(raw)
    rep = args.scale or max(1, 64 // tiles[0].shape[0])
    tiles = [t.repeat(rep, 0).repeat(rep, 1) for t in tiles]
    save_image(args.out, make_grid(tiles, ncols=args.ncols, pad=2))
    print(f"wrote {args.out} ({args.n} images, {raw.shape[-1]}x{raw.shape[-2]})")
    return 0


def run_interpolate(args) -> int:
    from ..images import save_image
    from ..latent import interpolate

    model = _load(args)
    save_image(args.out, interpolate(model, args.seeds, args.steps, args.slerp, args.label))
    print(f"wrote {args.out}")
    return 0


def run_arithmetic(args) -> int:
    from ..images import save_image
    from ..latent import arithmetic

    model = _load(args)
    grid, _ = arithmetic(model, args.a, args.b, args.c, args.label, variations=args.variations)
    save_image(args.out, grid)
    print(f"wrote {args.out}")
    return 0


def run_dissect(args) -> int:
    from ..latent import dissect

    model = _load(args)
    rep = dissect(model, args.layer, args.mask, samples=args.samples, top=args.top, boost=args.boost,
                  out_dir=args.out, show=args.show, label=args.label, seed=args.seed)
    units = ", ".join(f"{u['unit']} ({u['correlation']:.2f})" for u in rep["top_units"])
    print(f"{rep['layer']}: top units {units}")
    print(f"{rep['mode']}: mean |change| inside mask {rep['mean_abs_change_inside_mask']:.2f}, "
          f"outside {rep['mean_abs_change_outside_mask']:.2f} (0-255 scale); wrote {args.out}")
    return 0
