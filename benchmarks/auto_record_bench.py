"""``auto`` with a tuning record against every single engine on the same graph (issue 19 target: within 5 %):

    python3 benchmarks/auto_record_bench.py TUNED.sfbundle [--size 512] [--runs 11] [--json F]

Rows, timed interleaved (each timed call right after an untimed one of the same row; the order rotates each round,
since a fixed order measured a steady 2–6 % position bias here) on the bench picture, the
interface's own bench call (``model(image)`` for a stylizer: uint8 in and out):

* ``auto``: ``load(tuned)``, which honours the record on a matching host (says so, or why not);
* every CPU runner on this host with its defaults (``load(tuned, backend=R)``) and, for the recorded runner, with the
  recorded options (``load(tuned, backend=R, **record.options)``).

Prints the CPU model and the load before and after, auto's runner and how it was chosen, each row's median and
auto / the fastest other row.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers_bench import cpu_model  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundle", help="a bundle written by `styleforge tune`")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--runs", type=int, default=11)
    p.add_argument("--json")
    a = p.parse_args()

    from styleforge.runtime.backends import runner_class
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.interfaces import interface_spec
    from styleforge.runtime.latency import _run_interleaved, bench_case_inputs
    from styleforge.runtime.model import load

    bundle = open_bundle(a.bundle)
    record = bundle.manifest.tuning
    if record is None:
        sys.exit(f"{a.bundle}: no tuning record (make one with `styleforge tune`)")
    spec = interface_spec(bundle.interface)
    inputs = bench_case_inputs(bundle.interface, (a.size, a.size))
    load_before = os.getloadavg()

    auto = load(a.bundle)
    models = {"auto": auto}
    for runner in ("ort-cpu", "openvino"):
        if not runner_class(runner).probe():
            continue  # not usable on this host
        models[f"{runner} defaults"] = load(a.bundle, backend=runner)
        if runner == record.runner and record.options:
            models[f"{runner} {record.options}"] = load(a.bundle, backend=runner, **record.options)
    calls = {k: spec.bench_call(m, inputs) for k, m in models.items()}
    _, times = _run_interleaved(calls, a.runs, 2, {})  # the order rotates every round (runtime.latency.rotated)
    sel = getattr(next(iter(auto._sessions.values()), None), "selection", None)
    chosen = f"{sel.chosen} {sel.options}" if sel else "?"
    med = {k: statistics.median(v) * 1e3 for k, v in times.items() if v}
    others = {k: v for k, v in med.items() if k != "auto"}
    best = min(others, key=others.get)
    result = {"cpu": cpu_model(), "load_before": load_before, "load_after": os.getloadavg(), "size": a.size,
              "runs": a.runs, "record": {"runner": record.runner, "options": record.options, "variant": record.variant},
              "auto_runner": chosen, "median_ms": med, "fastest_other": best,
              "auto_vs_fastest": med["auto"] / others[best]}
    print(f"{result['cpu']}, {a.size}², runs {a.runs}; load {load_before[0]:.2f} → {result['load_after'][0]:.2f}")
    print(f"record: {record.variant} on {record.runner} {record.options}; auto ran {chosen}")
    for k, v in med.items():
        print(f"  {k:<40} {v:8.1f} ms")
    print(f"auto / fastest other ({best}): {result['auto_vs_fastest']:.3f}x")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
