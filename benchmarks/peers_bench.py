"""Peers in the same run (docs/deploy.md "Peers"): one table per model, rows side by side at each size —

- PyTorch eager (the bundle's source checkpoint through TorchRunner; "-" for imported graphs);
- ONNX Runtime defaults (a bare ``InferenceSession`` of the fp32 graph, nothing set);
- OpenVINO defaults (``Core().compile_model(graph, "CPU")``, nothing set);
- OpenVINO + NNCF's default int8 (``nncf.quantize`` with default parameters, calibrated on the two sample photos
  ``tune`` calibrates on);
- StyleForge's tuned bundle (``styleforge tune``'s output, ``load(tuned)`` with auto honouring its record): the
  interface call ``model(image)``, uint8 picture in and out, pre- and post-processing included.

WCT bundles (``wct_peers``): the rows run the ``stylize`` graph with the style statistics computed once (cached, as
serving does), the PyTorch row is ``torch-exact`` (the PytorchWCT-style pipeline, export/core/eager_bench.py), the
tuned row is the interface's ``bench_call``, and NNCF's default int8 is limited to the convolutions (every other
operator type in ``ignored_scope``): the whitening–colouring stays fp32, the encoders and decoders are quantised.

Peers are timed on the float tensor a user would feed (their own pre-processing not counted, so the comparison
favours them). Medians of interleaved rounds (each timed call right after an untimed one of the same row); PSNR of
each row's picture against ONNX Runtime fp32 on the same photo. Prints Markdown with the CPU model and the load:

    python3 benchmarks/peers_bench.py demo.sfbundle --tuned demo-tuned.sfbundle --sizes 256,512 --threads 2 --runs 11
    python3 benchmarks/peers_bench.py wct.sfbundle --tuned wct-tuned.sfbundle --sizes 256,512 --threads 2 --runs 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess

import numpy as np


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        return next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name"))
    except (OSError, StopIteration, subprocess.TimeoutExpired):
        import platform

        return platform.processor() or "unknown CPU"


def load_text() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def to_u8(y_nchw: np.ndarray, io, crop) -> np.ndarray:
    return io.decode(np.array(y_nchw, np.float32, copy=True), crop=crop)[0]


def peers(bundle_path, tuned_path, size, threads, calib):
    """{row name: (callable, picture)} for one size; a row that cannot run here maps to (None, reason)."""
    import onnxruntime as ort
    import openvino as ov

    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.io_plan import image_io, pad_batch
    from styleforge.runtime.latency import bench_image
    from styleforge.runtime.model import load

    bundle = open_bundle(bundle_path)
    if bundle.manifest.model.interface == "wct":
        return wct_peers(bundle_path, tuned_path, size, threads, calib)
    graph = bundle.manifest.graphs[0]
    io_in, io_out = image_io(graph.inputs[0]), image_io(graph.outputs[0])
    img = bench_image(*size)
    batch, crop = pad_batch(img[None], bundle.manifest.size_constraints.multiple_of)
    x = io_in.encode(batch)
    extra = {t.name: np.zeros([1 if not isinstance(d, int) else d for d in t.shape], np.float32)
             for t in graph.inputs[1:]}
    feeds = {graph.inputs[0].name: x, **extra}
    onnx_path = str(bundle.file(graph.file))
    rows = {}
    try:
        from styleforge.export.core.torch_runner import TorchRunner

        tr = TorchRunner(bundle_path, device="cpu", threads=threads)
        rows["PyTorch eager"] = (lambda: tr.run(feeds)[tr.output_names[0]], None)
    except Exception as e:  # no checkpoint (imported graph) or no torch
        rows["PyTorch eager"] = (None, str(e).splitlines()[0])
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    rows["ONNX Runtime defaults"] = (lambda: sess.run(None, feeds)[0], None)
    core = ov.Core()
    cm = core.compile_model(onnx_path, "CPU")
    rows["OpenVINO defaults"] = (lambda: cm(feeds)[0], None)
    try:
        import nncf

        ov_model = core.read_model(onnx_path)
        cal = []
        for c in calib:
            b, _ = pad_batch(c[None], bundle.manifest.size_constraints.multiple_of)
            cal.append({graph.inputs[0].name: io_in.encode(b), **extra})
        q = nncf.quantize(ov_model, nncf.Dataset(cal))
        cq = core.compile_model(q, "CPU")
        rows["OpenVINO + NNCF default int8"] = (lambda: cq(feeds)[0], None)
    except Exception as e:
        rows["OpenVINO + NNCF default int8"] = (None, str(e).splitlines()[0])
    if tuned_path:
        tuned = load(tuned_path)
        rec = tuned.manifest.tuning
        label = f"StyleForge tuned ({rec.variant} on {rec.runner})" if rec else "StyleForge tuned"
        rows[label] = (lambda: tuned(img), "u8")
    pictures = {}
    for name, (fn, kind) in rows.items():
        if fn is None:
            continue
        y = fn()
        pictures[name] = y if kind == "u8" else to_u8(y, io_out, crop)
    return rows, pictures


NNCF_WCT = "OpenVINO + NNCF default int8 (convolutions only)"


def wct_peers(bundle_path, tuned_path, size, threads, calib):
    """`peers` for a WCT bundle: the ``stylize`` graph fed content + alpha + the style statistics of one style
    picture, computed once by the bundle's ``encode_style`` graph (ONNX Runtime, fp32) and shared by every row."""
    import onnxruntime as ort
    import openvino as ov

    from styleforge.export.core.eager_bench import reference_contenders
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.interfaces import interface_spec
    from styleforge.runtime.io_plan import image_io, pad_batch
    from styleforge.runtime.latency import bench_case_inputs
    from styleforge.runtime.model import load

    bundle = open_bundle(bundle_path)
    spec = interface_spec("wct")
    graph, enc = bundle.graph("stylize"), bundle.graph("encode_style")
    inputs = bench_case_inputs("wct", size)
    mult = bundle.manifest.size_constraints.multiple_of
    enc_sess = ort.InferenceSession(str(bundle.file(enc.file)), providers=["CPUExecutionProvider"])

    def stats_of(style):
        b, _ = pad_batch(style[None], mult)
        names = [o.name for o in enc_sess.get_outputs()]
        return dict(zip(names, enc_sess.run(None, {"style": image_io(enc.input("style")).encode(b)})))

    batch, crop = pad_batch(inputs["image"][None], mult)
    levels = len(bundle.manifest.model.config.levels)
    feeds = {"content": image_io(graph.input("content")).encode(batch), "alpha": np.ones(levels, np.float32),
             **stats_of(inputs["style"])}
    io_out = image_io(graph.output("image"))
    onnx_path = str(bundle.file(graph.file))
    rows = {}
    ref = reference_contenders(bundle_path, threads=threads)[0]
    rows["PyTorch eager (torch-exact, PytorchWCT-style)"] = ((ref.make(inputs), "u8") if ref.make
                                                            else (None, ref.error))
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    rows["ONNX Runtime defaults"] = (lambda: sess.run(["image"], feeds)[0], None)
    core = ov.Core()
    cm = core.compile_model(onnx_path, "CPU")
    rows["OpenVINO defaults"] = (lambda: cm(feeds)[cm.output("image")], None)
    try:
        import nncf

        cal = []
        for i, c in enumerate(calib):  # each photo as content, the next as style (as convert's calibration does)
            b, _ = pad_batch(c[None], mult)
            cal.append({"content": image_io(graph.input("content")).encode(b), "alpha": feeds["alpha"],
                        **stats_of(calib[(i + 1) % len(calib)])})
        model = core.read_model(onnx_path)
        # only the encoders' and decoders' convolutions: NNCF's defaults also quantise the Newton–Schulz MatMuls and
        # the Add/Mul of the statistics, which wrecked the picture (6 dB at 64², MatMul alone ignored)
        others = sorted({op.get_type_name() for op in model.get_ops()} - {"Convolution"})
        q = nncf.quantize(model, nncf.Dataset(cal), ignored_scope=nncf.IgnoredScope(types=others, validate=False))
        cq = core.compile_model(q, "CPU")
        rows[NNCF_WCT] = (lambda: cq(feeds)[cq.output("image")], None)
    except Exception as e:
        rows[NNCF_WCT] = (None, str(e).splitlines()[0])
    if tuned_path:
        tuned = load(tuned_path)
        rec = tuned.manifest.tuning
        label = f"StyleForge tuned ({rec.variant} on {rec.runner})" if rec else "StyleForge tuned"
        rows[label] = (spec.bench_call(tuned, inputs), "u8")
    pictures = {}
    for name, (fn, kind) in rows.items():
        if fn is not None:
            y = fn()
            pictures[name] = y if kind == "u8" else io_out.decode(np.array(y, np.float32, copy=True), crop=crop)[0]
    return rows, pictures


def time_rows(rows: dict, runs: int) -> dict:
    """{row: median ms}, interleaved as `styleforge bench` times (runtime/latency.py)."""
    from styleforge.runtime.latency import _run_interleaved

    _, times = _run_interleaved({k: fn for k, (fn, _) in rows.items() if fn is not None}, runs, 1, {})
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def psnr(a, b) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(d * d))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle")
    ap.add_argument("--tuned", default=None)
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--title", default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from styleforge.train.core.samples import resolve_image

    calib = [resolve_image(s, max_side=512) for s in ("sample:astronaut", "sample:coffee")]
    sizes = [int(s) for s in args.sizes.split(",")]
    before = load_text()
    results = {}
    for s in sizes:
        rows, pics = peers(args.bundle, args.tuned, (s, s), args.threads, calib)
        med = time_rows(rows, args.runs)
        ref = pics["ONNX Runtime defaults"]
        results[s] = {k: (med.get(k), psnr(pics[k], ref) if k in pics else None, why) for k, (_, why) in rows.items()}
    print(f"### {args.title or args.bundle}\n")
    print(f"{cpu_model()}, {args.threads} threads, medians of {args.runs} interleaved runs; {before} before, "
          f"{load_text()} after. `python3 benchmarks/peers_bench.py {args.bundle} --tuned {args.tuned} "
          f"--sizes {args.sizes} --threads {args.threads} --runs {args.runs}`\n")
    head = "| engine | " + " | ".join(f"{s}² ms | vs eager | PSNR dB" for s in sizes) + " |"
    print(head)
    print("|" + "---|" * (1 + 3 * len(sizes)))
    for name in results[sizes[0]]:
        cells = []
        for s in sizes:
            ms, p, why = results[s][name]
            eager = next(iter(results[s].values()))[0]  # the PyTorch row comes first
            if ms is None:
                cells += ["–", "–", f"({why[:60] if why else 'n/a'})"]
                continue
            cells += [f"{ms:.1f}", f"{eager / ms:.2f}×" if eager else "–",
                      "ref" if name == "ONNX Runtime defaults" else ("∞" if p == float("inf") else f"{p:.1f}")]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
