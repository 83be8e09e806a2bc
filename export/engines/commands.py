"""`styleforge engine build BUNDLE`: TensorRT engines for a bundle's graphs, recorded in its manifest;
``--check-only [--json]`` reports the operator check and the profiles it would build, without TensorRT."""
from __future__ import annotations

from ...runtime.manifest import HARDWARE_COMPATIBILITY


def register(cli) -> None:
    p = cli.command("build", group="engine", help="build TensorRT engines for a bundle's graphs (needs TensorRT 10/11)",
                    description="Build a TensorRT engine per graph for the GPU here and record it in the bundle "
                                "(exact TensorRT version, GPU, profiles, options). Profiles respect the bundle's "
                                "size rule (multiple_of, min_side). --check-only needs no TensorRT.")
    p.add_argument("bundle", help="bundle directory")
    p.add_argument("--role", action="append", default=None, help="graph role to build (repeatable; default: all)")
    p.add_argument("--shapes", nargs="+", action="append", default=None, metavar="NAME:MIN:OPT:MAX",
                   help="one shape bucket (optimisation profile): dims joined by x, e.g. "
                        "content:1x3x256x256:1x3x512x512:4x3x1024x1024; repeat --shapes for more buckets; inputs a "
                        "bucket leaves out get the default (batch 1/1/4, H/W lo/512/1024 in multiples of the bundle's "
                        "multiple_of, lo = max(min_side, multiple_of))")
    p.add_argument("--contexts", type=int, default=2,
                   help="copies of each bucket, so that many execution contexts (threads) can run the engine at once")
    p.add_argument("--opt-level", type=int, default=None, choices=range(6), metavar="0-5",
                   help="builder optimisation level (TensorRT's default: 3; higher builds longer, may run faster)")
    p.add_argument("--hardware-compatibility", choices=HARDWARE_COMPATIBILITY, default="none",
                   help="ampere_plus: one engine for every GPU of compute capability >= 8.0 (some speed lost); "
                        "same_compute_capability: every GPU of this compute capability")
    p.add_argument("--version-compatible", action="store_true",
                   help="engine also loads in later TensorRT versions of the same major (it embeds a lean runtime)")
    p.add_argument("--timing-cache", default=None, metavar="PATH",
                   help="timing cache file to load and update (default: per TensorRT version and GPU under "
                        "$STYLEFORGE_CACHE_DIR or ~/.cache/styleforge/tensorrt)")
    p.add_argument("--no-timing-cache", action="store_true", help="build without a timing cache")
    p.add_argument("--workspace-gb", type=float, default=4.0, help="builder workspace limit")
    p.add_argument("--check-only", action="store_true",
                   help="only check the graphs' operators against TensorRT's ONNX support list and print the profiles "
                        "that would be built (no TensorRT needed)")
    p.add_argument("--json", action="store_true", help="with --check-only: print the report as JSON")
    p.set_defaults(func=run_build)


def _print_check(report: dict) -> None:
    sc = report["size_constraints"]
    print(f"{report['bundle']}: operators of every graph are in TensorRT's ONNX support list "
          f"(size rule: multiples of {sc['multiple_of']}, min side {sc['min_side']})")
    for g in report["graphs"]:
        need = f"; needs {', '.join(g['requires'])}" if g["requires"] else ""
        print(f"  {g['role']}: {len({p['bucket'] for p in g['profiles']})} profile(s){need}")
        for p in g["profiles"]:
            x = lambda d: "x".join(map(str, d))  # noqa: E731
            print(f"    bucket {p['bucket']}  {p['input']}: min {x(p['min'])}  opt {x(p['opt'])}  max {x(p['max'])}")


def run_build(args) -> int:
    import json
    from pathlib import Path

    from ...runtime.bundle import open_bundle
    from ...runtime.errors import StyleForgeError
    from .tensorrt_build import BuildOptions, build_bundle_engines, check_report, parse_shapes

    if args.json and not args.check_only:
        raise StyleForgeError("--json goes with --check-only")
    buckets = [parse_shapes(items) for items in args.shapes] if args.shapes else None
    options = BuildOptions(workspace_gb=args.workspace_gb, opt_level=args.opt_level,
                           hardware_compatibility=args.hardware_compatibility, version_compatible=args.version_compatible,
                           contexts=args.contexts, timing_cache=Path(args.timing_cache) if args.timing_cache else None,
                           default_timing_cache=not args.no_timing_cache).check()
    if args.timing_cache:  # the cache is rewritten after the build: never onto a file of the bundle
        from ...runtime.artefacts import check_not_input

        check_not_input(args.timing_cache, [args.bundle], flag="--timing-cache")
    bundle = open_bundle(args.bundle)
    tiling = {r for t in bundle.manifest.tiling for r in (t.stats_role, t.tiled_role, t.probe_role)}
    roles = args.role or [r for r in bundle.graphs if r not in tiling]  # tiling graphs run on ONNX Runtime
    report = check_report(bundle, roles, buckets)  # operators and profiles first: no TensorRT needed
    if args.check_only:
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            _print_check(report)
        return 0
    for e in build_bundle_engines(args.bundle, roles=roles, buckets=buckets, options=options):
        print(f"built {e.file} (TensorRT {e.tensorrt}, {e.gpu}, sm {e.compute_capability}, {len(e.profiles)} profile(s) "
              f"x {e.contexts} context(s))")
    return 0
