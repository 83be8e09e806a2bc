"""``styleforge optimize invert|texture|stylize|sweep|dfi``: thin wrappers over styleforge.train.optimize.methods.

Only argparse at import time; torch and the methods are imported when a command runs.
"""
from __future__ import annotations

import argparse
import json

from ...runtime.cli import float_list, int_list, positive_int


def _layers(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _common(p: argparse.ArgumentParser, *, size: int, steps: int, tv: str, init: str) -> None:
    g = p.add_argument_group("optimisation (shared by every optimize command)")
    g.add_argument("--steps", type=positive_int, default=steps, help="optimiser steps (at each pyramid scale)")
    g.add_argument("--size", type=positive_int, default=size, help="long side of the output in pixels")
    g.add_argument("--seed", type=int, default=0, help="seed of the white-noise start")
    g.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs",
                   help="L-BFGS (strong-Wolfe line search, one iteration per step) or Adam")
    g.add_argument("--lr", type=float, default=None, help="learning rate (default: 1.0 for lbfgs, 0.02 for adam)")
    g.add_argument("--init", choices=("noise", "content"), default=None, help=f"start image (default: {init})")
    g.add_argument("--tv-weight", type=float, default=None, help=f"total-variation weight (default: {tv})")
    g.add_argument("--scales", type=int_list, default=None,
                   help="coarse-to-fine pyramid: long sides to optimise at before --size, e.g. 128,256 "
                        "(--steps at each; a scale equal to --size is allowed)")
    g.add_argument("--snapshot-every", type=int, default=0, help="save the image every N steps (0: never)")
    g.add_argument("--snapshot-dir", default=None, help="folder for snapshots (default: OUT's name + '_snapshots')")
    g.add_argument("--log-json", default=None, metavar="FILE",
                   help="write JSON lines: one object per step with step, scale, each weighted loss term, total")
    g.add_argument("--vgg-weights", default=None, metavar="imagenet|FILE",
                   help="VGG weights: imagenet (torchvision's, from torch.hub's cache; downloaded once if missing), or a "
                        "file (torchvision state dict .pth or .safetensors); default: fixed-seed random weights, random(seed=0)")
    g.add_argument("--arch", choices=("vgg16", "vgg19"), default="vgg19", help="loss network")
    g.add_argument("--pool", choices=("max", "avg"), default="max", help="pooling in the loss network (Gatys used avg)")
    g.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def register(cli) -> None:
    p = cli.command("invert", group="optimize",
                    help="feature inversion: reconstruct an image from one VGG layer's features (Mahendran & Vedaldi 2015)")
    p.add_argument("image", help="image file or sample:NAME")
    p.add_argument("--layer", default="relu3_1", help="VGG layer whose features to match (relu1_1 … relu5_4)")
    p.add_argument("--out", required=True, help="output image (.png/.jpg)")
    _common(p, size=256, steps=200, tv="0.01", init="noise")
    p.set_defaults(func=run_invert)

    p = cli.command("texture", group="optimize", help="Gram-matrix texture synthesis from noise (Gatys et al. 2015)")
    p.add_argument("--style", required=True, help="texture exemplar: image file or sample:NAME")
    p.add_argument("--out", required=True, help="output image (.png/.jpg)")
    p.add_argument("--layers", type=_layers, default=None, help="comma-separated VGG layers (default relu1_1,relu2_1,relu3_1,relu4_1,relu5_1)")
    p.add_argument("--height", type=positive_int, default=None, help="output height (default: --size, a square)")
    p.add_argument("--style-scale", type=float, default=1.0, help="style image long side = this × the output's long side")
    p.add_argument("--style-weight", type=float, default=1e5, help="weight of the Gram loss")
    _common(p, size=256, steps=200, tv="0", init="noise")
    p.set_defaults(func=run_texture)

    p = cli.command("stylize", group="optimize", help="neural style transfer by optimisation (Gatys et al. 2016)")
    _stylize_args(p)
    p.add_argument("--style-weight", type=float, default=1e5, help="weight of the style (Gram) loss")
    p.add_argument("--out", required=True, help="output image (.png/.jpg)")
    _common(p, size=256, steps=200, tv="0", init="content")
    p.set_defaults(func=run_stylize)

    p = cli.command("sweep", group="optimize",
                    help="contact sheet of Gatys style transfer over style weights: photo → pure texture")
    _stylize_args(p)
    p.add_argument("--style-weights", type=float_list, default=[1e2, 1e3, 1e4, 1e5, 1e6],
                   help="comma-separated style weights, one result each")
    p.add_argument("--out", required=True, help="contact sheet (.png/.jpg)")
    p.add_argument("--no-labels", action="store_true", help="no captions under the tiles")
    _common(p, size=256, steps=200, tv="0", init="content")
    p.set_defaults(func=run_sweep)

    p = cli.command("dfi", group="optimize",
                    help="deep feature interpolation (Upchurch et al. 2017): add or remove an attribute by a feature-space shift")
    p.add_argument("--dataset", default=None, metavar="DIR",
                   help="aligned images; default: a synthetic face dataset generated on the fly (attributes glasses, moustache, smiling)")
    p.add_argument("--attributes", default=None, metavar="CSV",
                   help="attributes CSV (columns file,ATTR,...; 1/0) (default: DIR/attributes.csv)")
    p.add_argument("--image", default=None, help="image to edit (default with the synthetic dataset: a held-out face without any attribute)")
    p.add_argument("--attribute", default="glasses", help="attribute column to add (negative strengths remove it)")
    p.add_argument("--strength", type=float_list, default=[0.5, 1.0, 2.0], help="comma-separated strengths α (target = φ(x) + α·w)")
    p.add_argument("--k", type=positive_int, default=10, help="nearest neighbours on each side")
    p.add_argument("--layers", type=_layers, default=None, help="comma-separated VGG layers (default relu3_1,relu4_1,relu5_1)")
    p.add_argument("--count", type=positive_int, default=96, help="faces in the synthetic dataset (without --dataset)")
    p.add_argument("--out", required=True, help="row of images: the input, then one per strength (.png/.jpg)")
    _common(p, size=128, steps=100, tv="0.01", init="content (the input image)")
    p.set_defaults(func=run_dfi)


def _stylize_args(p) -> None:
    p.add_argument("content", help="content image: file or sample:NAME")
    p.add_argument("--style", action="append", required=True, help="style image (repeat for several)")
    p.add_argument("--style-blend", type=float_list, default=None, help="comma-separated weights for several --style images (normalised to sum 1)")
    p.add_argument("--content-weight", type=float, default=1.0, help="weight of the content loss")
    p.add_argument("--preserve-color", choices=("luminance", "histogram"), default=None,
                   help="keep the content's colours: luminance-only transfer (YIQ) after, or Reinhard colour matching of the style images before")
    p.add_argument("--style-layers", type=_layers, default=None, help="comma-separated (default relu1_1,relu2_1,relu3_1,relu4_1,relu5_1)")
    p.add_argument("--content-layer", default="relu4_2", help="content layer")
    p.add_argument("--style-scale", type=float, default=1.0, help="style image long side = this × the output's long side")


# --------------------------------------------------------------------------------------------
def _opts(args):
    from pathlib import Path

    from .methods import LoopOptions

    snap = args.snapshot_dir
    if args.snapshot_every and not snap:
        out = Path(args.out)
        snap = str(out.with_name(out.stem + "_snapshots"))
    return LoopOptions(steps=args.steps, optimizer=args.optimizer, lr=args.lr, tv_weight=args.tv_weight,
                       scales=args.scales, seed=args.seed, init=args.init, snapshot_every=args.snapshot_every,
                       snapshot_dir=snap, log_json=args.log_json, progress=not args.quiet, device=args.device,
                       arch=args.arch, vgg_weights=args.vgg_weights, pool=args.pool)


def _check_out(path: str) -> None:
    from pathlib import Path

    from ...runtime.errors import StyleForgeError
    from ...runtime.images import IMAGE_SUFFIXES

    if Path(path).suffix.lower() not in IMAGE_SUFFIXES:
        raise StyleForgeError(f"--out {path}: unsupported output format {Path(path).suffix or '(no suffix)'}; use .png or .jpg")


def _load(spec: str, max_side: int | None = None):
    from ..core.samples import resolve_image

    return resolve_image(spec, max_side=max_side)


def _done(args, image, res_or_net: str, extra: dict | None = None) -> int:
    from ...runtime.images import save_image

    save_image(args.out, image)
    info = {"out": str(args.out), "loss_network": res_or_net, **(extra or {})}
    print(json.dumps(info))
    return 0


def run_invert(args) -> int:
    from .methods import invert

    _check_out(args.out)
    img = _load(args.image)
    r = invert(img, args.layer, size=args.size, opts=_opts(args))
    return _done(args, r.image, r.loss_network, {"final": r.final, "seconds_per_step": round(r.seconds_per_step, 4), "cpu_seconds_per_step": round(r.cpu_seconds_per_step, 4)})


def run_texture(args) -> int:
    from .methods import STYLE_LAYERS, texture

    _check_out(args.out)
    style = _load(args.style)
    r = texture(style, size=args.size, height=args.height, layers=args.layers or STYLE_LAYERS, opts=_opts(args),
                style_scale=args.style_scale, style_weight=args.style_weight)
    return _done(args, r.image, r.loss_network, {"final": r.final, "seconds_per_step": round(r.seconds_per_step, 4), "cpu_seconds_per_step": round(r.cpu_seconds_per_step, 4)})


def _stylize_kw(args) -> dict:
    from .methods import STYLE_LAYERS

    return dict(content_weight=args.content_weight, style_blend=args.style_blend, preserve_color=args.preserve_color,
                style_layers=args.style_layers or STYLE_LAYERS, content_layer=args.content_layer,
                style_scale=args.style_scale)


def run_stylize(args) -> int:
    from .methods import stylize

    _check_out(args.out)
    content = _load(args.content)
    styles = [_load(s) for s in args.style]
    r = stylize(content, styles, size=args.size, style_weight=args.style_weight, opts=_opts(args), **_stylize_kw(args))
    return _done(args, r.image, r.loss_network, {"final": r.final, "seconds_per_step": round(r.seconds_per_step, 4), "cpu_seconds_per_step": round(r.cpu_seconds_per_step, 4)})


def run_sweep(args) -> int:
    from .methods import sweep

    _check_out(args.out)
    content = _load(args.content)
    styles = [_load(s) for s in args.style]
    sheet, results = sweep(content, styles, args.style_weights, size=args.size, opts=_opts(args),
                           labels=not args.no_labels, **_stylize_kw(args))
    return _done(args, sheet, results[0].loss_network,
                 {"style_weights": args.style_weights, "final": [r.final for r in results]})


def run_dfi(args) -> int:
    from pathlib import Path

    import numpy as np

    from ...runtime.errors import StyleForgeError
    from .methods import DFI_LAYERS, dfi
    from .faces import ATTRIBUTES, make_dataset, probe_face, read_attributes

    _check_out(args.out)
    size = args.size
    exclude = None
    if args.dataset is None and args.attributes is None:
        if args.attribute not in ATTRIBUTES:
            raise StyleForgeError(f"--attribute {args.attribute!r}: the synthetic dataset has {', '.join(ATTRIBUTES)}")
        if args.count < 2:
            raise StyleForgeError("--count must be at least 2")
        images, attrs = make_dataset(args.count, size)
        labels = [a[args.attribute] for a in attrs]
        dataset_desc = f"synthetic faces (n={args.count}, seed=0)"
    else:
        csv_path = Path(args.attributes) if args.attributes else Path(args.dataset) / "attributes.csv"
        if args.dataset is not None and not Path(args.dataset).is_dir():
            raise StyleForgeError(f"--dataset {args.dataset}: no such folder")
        paths, labels = read_attributes(csv_path, args.attribute, root=args.dataset)
        images = [_load(str(p)) for p in paths]
        dataset_desc = str(csv_path)
        if args.image is not None:
            resolved = Path(args.image).resolve()
            hits = [i for i, p in enumerate(paths) if Path(p).resolve() == resolved]
            exclude = hits[0] if hits else None
    if args.image is None:
        if args.dataset is not None or args.attributes is not None:
            raise StyleForgeError("--image is required with --dataset/--attributes")
        image = probe_face(size)
    else:
        image = _load(args.image)
    r = dfi(image, images, np.asarray(labels), strengths=args.strength, k=args.k, size=size,
            layers=args.layers or DFI_LAYERS, opts=_opts(args), exclude=exclude)
    return _done(args, r.row, r.loss_network, {"dataset": dataset_desc, "attribute": args.attribute,
                                               "strengths": r.strengths, "k": args.k,
                                               "with_attribute": int(np.sum(labels)),
                                               "without_attribute": int(len(labels) - np.sum(labels))})
