"""`styleforge engine build BUNDLE`: TensorRT engines for a bundle's graphs, recorded in its manifest."""
from __future__ import annotations


def register(cli) -> None:
    p = cli.command("build", group="engine", help="build TensorRT engines for a bundle's graphs (needs TensorRT 10/11)")
    p.add_argument("bundle", help="bundle directory")
    p.add_argument("--role", action="append", default=None, help="graph role to build (repeatable; default: all)")
    p.add_argument("--shapes", nargs="*", default=None, metavar="NAME:MIN:OPT:MAX",
                   help="optimisation profile per dynamic input, dims joined by x, e.g. "
                        "content:1x3x256x256:1x3x512x512:4x3x1024x1024 (default: batch 1/1/4, H/W 2m/512/1024)")
    p.add_argument("--workspace-gb", type=float, default=4.0, help="builder workspace limit")
    p.add_argument("--check-only", action="store_true",
                   help="only check the graphs' operators against TensorRT's ONNX support list (no TensorRT needed)")
    p.set_defaults(func=run_build)


def run_build(args) -> int:
    from ...kernels.trt_onnx_support import check_tensorrt_ops
    from ...runtime.bundle import open_bundle
    from .tensorrt_build import build_bundle_engines, parse_shapes

    shapes = parse_shapes(args.shapes)
    bundle = open_bundle(args.bundle)
    tiling = {r for t in bundle.manifest.tiling for r in (t.stats_role, t.tiled_role, t.probe_role)}
    roles = args.role or [r for r in bundle.graphs if r not in tiling]  # tiling graphs run on ONNX Runtime
    for role in roles:
        g = bundle.graph(role)
        check_tensorrt_ops(bundle.file(g.file).read_bytes(), f"{args.bundle}:{role}")
    if args.check_only:
        print(f"{args.bundle}: every operator of {', '.join(roles)} is in TensorRT's ONNX support list")
        return 0
    for e in build_bundle_engines(args.bundle, roles=roles, shapes=shapes, workspace_gb=args.workspace_gb):
        print(f"built {e['file']} (TensorRT {e['tensorrt']}, sm {e['compute_capability']})")
    return 0
