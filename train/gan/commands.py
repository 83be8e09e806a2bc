"""`styleforge train digit-classifier` and `styleforge eval gan` (offline quality measure). `styleforge
train gan --method …` itself is generated from the families' declarations (train/core/commands.py)."""
from __future__ import annotations


def register(cli) -> None:
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
                   help="FID in Inception v3 features: pt_inception (pytorch-fid's weights, the standard FID), imagenet "
                        "(torchvision's), both from torch.hub's cache (downloaded once if missing), or a torchvision-layout "
                        "inception_v3 state dict file")
    from ...runtime.cli import int_list

    e.add_argument("--labels", type=int_list, default=None,
                   help="cgan: comma-separated class indices to measure, e.g. 0,3,7 (default: all)")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.set_defaults(func=run_eval_gan)


def run_train_classifier(args) -> int:
    from .digit_classifier import save_classifier, train_classifier

    model, acc = train_classifier(seed=args.seed)
    save_classifier(model, args.out)
    print(f"wrote {args.out} (held-out digits accuracy {acc:.3f})")
    return 0


def run_eval_gan(args) -> int:
    import json

    from .evaluate import evaluate_bundle, format_eval

    report = evaluate_bundle(args.bundle, n=args.n, seed=args.seed, data=args.data, classifier=args.classifier,
                             inception_weights=args.inception_weights, labels=args.labels or None)
    print(json.dumps(report, indent=2) if args.json else format_eval(report))
    return 0
