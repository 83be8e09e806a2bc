"""``int8-ac`` (export/tune/accuracy_control.py) against NNCF's ``quantize_with_accuracy_control`` (ONNX backend) on
one stylizer bundle: the same check set and target (metric min(PSNR vs fp32, 100), absolute max_drop 100 − target),
then both graphs scored as ``tune`` scores (golden cases and held-out photos) and timed interleaved at 512² on ONNX
Runtime and OpenVINO beside fp32. Prints Markdown with the CPU model and the load (docs/deploy.md "Tuning"):

    python3 benchmarks/ac_bench.py demo.sfbundle --min-psnr 40 --threads 2 --runs 5
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path


def nncf_ac(parent, fp32, images, extra, target: float, work: Path):
    """(NNCF's accuracy-controlled graph of `stylize`, seconds, validations)."""
    import nncf
    import onnx

    from styleforge.export.tune import accuracy_control as ac
    from styleforge.export.tune.nncf_variant import _on_stderr

    g = ac._prepare(parent, fp32, "stylize", images, extra, work)
    calls = [0]

    def validate(model, data):
        calls[0] += 1
        data = list(data)
        outs = ac._run(model, data)
        idx = [next(i for i, f in enumerate(g.checks) if all(f[k] is d[k] or (f[k].shape == d[k].shape and
                                                                                 (f[k] == d[k]).all()) for k in f))
               for d in data]
        vals = [min(ac._psnr(o[i], g.refs[j][i], lo, hi) for i, lo, hi in g.images) for o, j in zip(outs, idx)]
        return min(vals), vals

    model = onnx.load(str(fp32.file(fp32.graph("stylize").file)))
    t = time.monotonic()
    with _on_stderr():  # its logger writes to stdout
        q = nncf.quantize_with_accuracy_control(model, nncf.Dataset(g.feeds), nncf.Dataset(g.checks), validate,
                                                max_drop=100.0 - target, drop_type=nncf.DropType.ABSOLUTE)
    return q, time.monotonic() - t, calls[0]


def main() -> None:
    from peers_bench import cpu_model, load_text

    from styleforge.export.convert.api import convert_bundle
    from styleforge.export.convert.calibration import load_calibration
    from styleforge.export.tune.accuracy_control import CHECK_IMAGES, MARGIN_DB, accuracy_controlled_int8
    from styleforge.export.tune.measure import CALIBRATION, cases_psnr, golden_psnr, interleaved_medians, quality_cases
    from styleforge.export.tune.measure import timed_call
    from styleforge.runtime.bundle import open_bundle, update_bundle
    from styleforge.runtime.model import load

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--min-psnr", type=float, default=40.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    before = load_text()
    target = a.min_psnr + MARGIN_DB
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        fp32, _ = convert_bundle(a.bundle, d / "fp32.sfbundle", validate=False)
        int8, _ = convert_bundle(a.bundle, d / "int8.sfbundle", precision="int8", calibration=list(CALIBRATION),
                                 validate=False)
        images, _ = load_calibration(list(CALIBRATION), 512)
        extra, _ = load_calibration(list(CHECK_IMAGES), 512)
        t = time.monotonic()
        ours = accuracy_controlled_int8(a.bundle, fp32, int8, d / "ac.sfbundle", images, a.min_psnr,
                                        time.monotonic() + 1800, lambda m: print(m, file=sys.stderr))
        ours_s = time.monotonic() - t
        kept = open_bundle(ours).manifest.lineage.conversion.options["accuracy_control"]["kept_float"]["stylize"]
        q, nncf_s, n = nncf_ac(open_bundle(a.bundle), open_bundle(fp32), images, extra, target, d)
        theirs = d / "nncf-ac.sfbundle"
        shutil.copytree(int8, theirs)
        update_bundle(theirs, add_files={open_bundle(int8).graph("stylize").file: q.SerializeToString()})
        cases = quality_cases(open_bundle(a.bundle).manifest, [(512, 512)])  # tune's own quality set
        ref = load(fp32, backend="ort-cpu")
        refs = [c.run(ref) for c in cases]
        rows, calls = {}, {}
        for name, path in (("fp32", fp32), (f"int8-ac ({len(kept)} convs float, {ours_s:.0f} s)", ours),
                           (f"NNCF accuracy control ({nncf_s:.0f} s, {n} validations)", theirs)):
            for runner, opts in (("ort-cpu", {"spinning": False}),
                                 ("openvino", {"hint": "latency", "precision": "f32"})):
                opts = {"threads": a.threads, **opts}
                m = load(path, backend=runner, **opts)
                rows[(name, runner)] = min(golden_psnr(path, runner, opts)[0], cases_psnr(m, cases, refs)[0])
                calls[(name, runner)] = timed_call(m, "stylizer", (512, 512))
        med = interleaved_medians(calls, a.runs, 1, time.monotonic() + 1800)
    print(f"{cpu_model()}, {a.threads} threads, medians of {a.runs} interleaved runs at 512², target {target:g} dB "
          f"on the check set; {before} before, {load_text()} after. `python3 benchmarks/ac_bench.py {a.bundle}`\n")
    print("| graph | runner | 512² ms | tune PSNR dB |\n|---|---|---|---|")
    for (name, runner), psnr in rows.items():
        print(f"| {name} | {runner} | {med[(name, runner)] * 1e3:.1f} | {psnr:.2f} |")


if __name__ == "__main__":
    main()
