"""`styleforge triton BUNDLE… --out REPO`: write and check a Triton model repository (export/triton/writer.py)."""
from __future__ import annotations


def register(cli) -> None:
    p = cli.command("triton", help="write a Triton Inference Server model repository from bundles (checked against "
                                   "Triton's ModelConfig schema)")
    p.add_argument("bundles", nargs="+", metavar="BUNDLE", help="stylizer, translator or generator bundles")
    p.add_argument("--out", required=True, metavar="REPO", help="model repository folder (created; models replaced)")
    p.add_argument("--max-batch", type=int, default=8, help="max_batch_size (0: no batching)")
    p.add_argument("--max-delay-us", type=int, default=5000, help="dynamic_batching max_queue_delay_microseconds")
    p.add_argument("--kind", default="KIND_AUTO", choices=["KIND_AUTO", "KIND_CPU", "KIND_GPU"],
                   help="instance_group kind of the ONNX models")
    p.add_argument("--instances", type=int, default=1, help="instance_group count")
    p.add_argument("--target-sm", default=None, metavar="X.Y",
                   help="compute capability of the serving GPU: a bundle engine built for it is written as a "
                        "TensorRT plan in an ensemble (Python-backend pre/post-processing)")
    p.add_argument("--backend", default="onnxruntime", choices=["onnxruntime", "python"],
                   help="onnxruntime: platform onnxruntime_onnx models; python: each graph runs on ONNX Runtime inside "
                        "Triton's Python backend (model.py beside model.onnx; ensembles get the graph in place of the plan)")
    p.set_defaults(func=run_triton)


def run_triton(args) -> int:
    from ...runtime.errors import StyleForgeError
    from .checker import check_repository
    from .writer import RepoOptions, write_repository

    names = write_repository(args.bundles, args.out, RepoOptions(
        max_batch_size=args.max_batch, max_delay_us=args.max_delay_us, kind=args.kind, count=args.instances,
        target_sm=args.target_sm, backend=args.backend))
    report = check_repository(args.out)
    bad = {k: v for k, v in report.items() if k in names and v}
    if bad:
        name, problems = next(iter(bad.items()))
        raise StyleForgeError(f"{args.out}/{name}: {problems[0]}")
    for name in names:
        print(f"wrote {args.out}/{name}")
    return 0
