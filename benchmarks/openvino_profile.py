"""Where OpenVINO spends its time on one graph of a bundle: per node type and per kernel (OpenVINO's PERF_COUNT).

    python3 benchmarks/openvino_profile.py BUNDLE.sfbundle [--role stylize] [--size 512] [--threads 2] [--runs 12]

Reshapes the graph's first input to 1×C×size×size (its value range from the manifest: a uniform random picture in
it), compiles with the latency hint, runs `--runs` times and prints the last run's times summed by node type and by
kernel (``exec_type``: ``brgconv_avx2_f32`` = a JIT fp32 conv, ``jit_avx2_I8`` = int8, ``ref_*`` = OpenVINO's
reference kernels), with the CPU model and the load.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers_bench import cpu_model  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundle")
    p.add_argument("--role", default=None, help="graph role (default: the bundle's first graph)")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=12)  # 3 measured 194 ms where 12 settle at 113 (demo int8-ac, idle)
    a = p.parse_args()

    import openvino as ov

    from styleforge.runtime.bundle import open_bundle

    bundle = open_bundle(a.bundle)
    graph = bundle.graph(a.role or bundle.manifest.graphs[0].role)
    spec = graph.inputs[0]
    lo, hi = spec.range or (0.0, 1.0)
    core = ov.Core()
    model = core.read_model(str(Path(a.bundle) / graph.file))
    channels = next(d for d in spec.shape[1:] if isinstance(d, int))
    model.reshape({model.inputs[0].get_any_name(): [1, channels, a.size, a.size]})
    compiled = core.compile_model(model, "CPU", {"PERF_COUNT": True, "INFERENCE_NUM_THREADS": str(a.threads),
                                                 "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    x = np.random.default_rng(0).uniform(lo, hi, (1, channels, a.size, a.size)).astype(np.float32)
    load_before = os.getloadavg()[0]
    for _ in range(a.runs):
        request.infer({0: x})
    by_type, by_kernel = collections.Counter(), collections.Counter()
    for node in request.profiling_info:
        ms = node.real_time.total_seconds() * 1e3
        by_type[node.node_type] += ms
        by_kernel[node.exec_type] += ms
    total = sum(by_type.values())
    print(f"{cpu_model()}, {graph.role} at {a.size}², {a.threads} threads; load {load_before:.2f} → "
          f"{os.getloadavg()[0]:.2f}; total {total:.1f} ms")
    for title, table in (("node type", by_type), ("kernel", by_kernel)):
        print(f"by {title}:")
        for k, v in table.most_common(8):
            print(f"  {k:<28}{v:8.1f} ms {100 * v / total:5.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
