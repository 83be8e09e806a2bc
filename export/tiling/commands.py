"""`styleforge tiling add BUNDLE`: give a bundle exported before tiling existed its tiling graphs."""
from __future__ import annotations

#: which roles an interface tiles: its spec's ``tiled_roles`` (runtime/interfaces.py)


def register(cli) -> None:
    p = cli.command("add", group="tiling", help="add tiling graphs (stats, tiled, probe) to a stylizer or translator bundle")
    p.add_argument("bundle", help="bundle directory (updated in place, hashes kept right)")
    p.set_defaults(func=run_add)


def add_tiling_to_bundle(path) -> list[str]:
    """Add the tiling graphs of every tileable role that lacks them; returns the roles that got them."""
    import numpy as np

    from ...runtime.bundle import open_bundle, update_bundle
    from ...runtime.errors import StyleForgeError
    from ...runtime.interfaces import interface_spec, interfaces_with
    from ..core.bundle_writer import graph_spec
    from .graphs import _annotations, make_tiling_graphs

    bundle = open_bundle(path)
    m = bundle.manifest
    tiled = interface_spec(bundle.interface).tiled_roles
    roles = [r for r in tiled if r in bundle.graphs and m.tiling_for(r) is None]
    if not tiled:
        raise StyleForgeError(f"{path}: a {bundle.interface!r} bundle is not tiled "
                              f"({' and '.join(interfaces_with(lambda s: s.tiled_roles))} bundles are)")
    done = []
    for role in roles:
        graph = bundle.graph(role)
        image = graph.input("image")
        if image is None or image.dtype not in ("float32", "float16") or (image.layout or "NCHW").upper() != "NCHW":
            raise StyleForgeError(f"{path}: tiling graphs are made from a float NCHW image graph, and {role} takes "
                                  f"{image.dtype if image else 'no'} {image.layout if image else 'image'} input "
                                  "(a --io uint8-nhwc variant?); add tiling to a float-I/O bundle instead")
        extra = {"style_index": np.zeros(1, np.int64)} if graph.input("style_index") is not None else {}
        made = make_tiling_graphs(bundle.file(graph.file).read_bytes(), role, align=m.size_constraints.multiple_of,
                                  extra_feeds=extra)
        if made is None:
            continue

        def patch(manifest, made=made, graph=graph):
            for name, data in made.files.items():
                if name.endswith(".onnx"):
                    manifest.graphs.append(graph_spec(name.removesuffix(".onnx"), name, data, graph.opset, _annotations(graph)))
            manifest.tiling.append(made.spec)

        update_bundle(path, add_files=made.files, patch=patch)
        done.append(role)
    return done


def run_add(args) -> int:
    roles = add_tiling_to_bundle(args.bundle)
    print(f"{args.bundle}: tiling graphs added for {', '.join(roles)}" if roles else
          f"{args.bundle}: nothing to add (tiling graphs present, or no graph with instance norm and a bounded receptive field)")
    return 0
