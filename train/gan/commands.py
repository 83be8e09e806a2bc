"""`styleforge train gan` (every GAN family, chosen by --family through train/gan_registry.py),
`styleforge train digit-classifier` and `styleforge eval gan` (offline quality measure)."""
from __future__ import annotations


FAMILY_HELP = "dcgan | wgan | wgan-gp | cgan | pgan | pix2pix | cyclegan"


def register(cli) -> None:
    p = cli.command("gan", group="train", help="train a GAN family (" + FAMILY_HELP + ")")
    p.add_argument("--family", required=True, help=FAMILY_HELP)
    p.add_argument("--data", default=None,
                   help="image folder (one subfolder per class for cgan; A/ B/ for pix2pix/cyclegan); default: the "
                        "family's built-in set (builtin:digits; also builtin:lfw)")
    p.add_argument("--out", required=True, help="run folder (checkpoints/, previews/)")
    p.add_argument("--steps", type=int, default=None, help="generator steps (family default if omitted)")
    p.add_argument("--resolution", type=int, default=None, help="image side in pixels (power of two for latent families)")
    p.add_argument("--batch", type=int, default=None, help="batch size")
    p.add_argument("--width-mult", type=float, default=None, help="channel width multiplier")
    p.add_argument("--lr", type=float, default=None, help="learning rate (family default if omitted)")
    p.add_argument("--nz", type=int, default=None, help="latent size (latent families; default 64)")
    p.add_argument("--ema", type=float, default=None, help="EMA decay of the generator copy (default 0.999)")
    p.add_argument("--channels", type=int, choices=[1, 3], default=None, help="force 1 or 3 image channels")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints (default: steps/4)")
    p.add_argument("--sample-every", type=int, default=None, help="steps between preview grids from fixed noise")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--device", default=None, help="torch device for training (cpu, cuda, cuda:1); default cpu")
    f = p.add_argument_group("family options")
    f.add_argument("--clip", type=float, default=None, help="wgan: weight clipping bound (0.01)")
    f.add_argument("--n-critic", type=int, default=None, help="wgan/wgan-gp/pgan: critic updates per generator step")
    f.add_argument("--gp-lambda", type=float, default=None, help="wgan-gp/pgan: gradient penalty weight (10)")
    f.add_argument("--projection", action="store_true", default=None, help="cgan: projection discriminator")
    f.add_argument("--fade-steps", type=int, default=None, help="pgan: steps per fade-in and per stable phase")
    f.add_argument("--lambda-l1", type=float, default=None, help="pix2pix: L1 weight (100)")
    f.add_argument("--n-layers", type=int, default=None, help="pix2pix: PatchGAN layers (3 = 70x70)")
    f.add_argument("--n-blocks", type=int, default=None, help="cyclegan: ResNet blocks (6 or 9)")
    f.add_argument("--lambda-cycle", type=float, default=None, help="cyclegan: cycle loss weight (10)")
    f.add_argument("--lambda-identity", type=float, default=None, help="cyclegan: identity loss weight (0.5)")
    f.add_argument("--pool-size", type=int, default=None, help="cyclegan: image pool size (50)")
    f.add_argument("--decay-start", type=int, default=None, help="cyclegan: step where the lr starts decaying linearly")
    p.set_defaults(func=run_train_gan)

    p = cli.command("digit-classifier", group="train",
                    help="train the small digits classifier used by `styleforge eval gan` (seconds)")
    p.add_argument("--out", required=True, help="file to write (.safetensors)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_train_classifier)

    e = cli.command("gan", group="eval",
                    help="offline quality of a generator bundle: Fréchet distance in a digits classifier's feature "
                         "space, cgan label accuracy, optional Inception FID")
    e.add_argument("bundle", help="generator bundle")
    e.add_argument("--n", type=int, default=1000, help="generated samples")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--data", default=None, help="real set to compare with (default: the set the model was trained on)")
    e.add_argument("--classifier", default=None, help="digits classifier file (default: train one now, ~seconds)")
    e.add_argument("--inception-weights", default=None,
                   help="torchvision inception_v3 state dict (.pth or .safetensors) for the standard FID")
    e.add_argument("--labels", default=None, help="cgan: comma-separated labels to measure (default: all)")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.set_defaults(func=run_eval_gan)


def _default_steps(cls) -> int:
    """A trainer class's ``default_steps`` attribute (the minutes-long default run), else 1000."""
    return int(getattr(cls, "default_steps", None) or 1000)


def run_train_gan(args) -> int:
    from ...train.gan_registry import get_trainer_class

    cls = get_trainer_class(args.family)
    opts = {k: v for k, v in vars(args).items() if k not in ("func", "out", "steps", "seed", "resume", "checkpoint_every",
                                                              "sample_every", "no_progress", "command", "train_command")}
    steps = args.steps or _default_steps(cls)
    ck = args.checkpoint_every or max(1, steps // 4)
    trainer = cls(args.out, opts, steps=steps, seed=args.seed, resume=args.resume, checkpoint_every=ck,
                  preview_every=args.sample_every or ck)
    trainer.progress = not args.no_progress
    ckpt = trainer.fit()
    print(f"checkpoint: {ckpt}")
    return 0


def run_train_classifier(args) -> int:
    from ...train.digit_classifier import save_classifier, train_classifier

    model, acc = train_classifier(seed=args.seed)
    save_classifier(model, args.out)
    print(f"wrote {args.out} (held-out digits accuracy {acc:.3f})")
    return 0


def run_eval_gan(args) -> int:
    import json

    from ...train.gan_eval import evaluate_bundle, format_eval

    labels = [int(t) for t in args.labels.split(",")] if args.labels else None
    report = evaluate_bundle(args.bundle, n=args.n, seed=args.seed, data=args.data, classifier=args.classifier,
                             inception_weights=args.inception_weights, labels=labels)
    print(json.dumps(report, indent=2) if args.json else format_eval(report))
    return 0
