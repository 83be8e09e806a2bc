"""``styleforge demo``: the whole path on a 2-core CPU in a few minutes.

Train a small stylizer on the bundled sample photos toward a bundled texture → export a bundle →
validate it on ONNX Runtime → stylize the photos with the lean runtime → ``styleforge tune`` it (the fastest
runner × precision on this machine above a PSNR floor) → benchmark fp32 on ONNX Runtime, the tuned bundle and
PyTorch eager in one interleaved run → write ``DIR/report.html`` (pictures, validation table, latency table and
plot, fp32 | tuned | eager side by side with their PSNR, loss network).
"""
from __future__ import annotations

import html
import json
import sys
import time
from pathlib import Path

#: Small enough for ~3 minutes of training on 2 cores, big enough to show the style. The style
#: weight is 5x below the Johnson default: in 300 steps that keeps the photo recognisable.
DEMO = dict(style="sample:mosaic", steps=300, size=128, batch=2, width_mult=0.5, content_weight=1e5,
            style_weight=2e9, tv_weight=1e2, checkpoint_every=100, stylize_max_side=256, bench_sizes="256,512",
            bench_runs=10, bench_warmup=2, tune_min_psnr=40.0, tune_sizes=((512, 512),), tune_budget_s=600.0, tune_runs=5,
            tune_calibration_size=512, tune_variants=(("fp32", None), ("int8", None), ("int8", "nncf"), ("int8", "ac")))
QUICK = dict(DEMO, steps=4, size=32, batch=1, width_mult=0.125, checkpoint_every=4, stylize_max_side=64,
             bench_sizes="32", bench_runs=2, bench_warmup=1, tune_min_psnr=20.0, tune_sizes=((32, 32),),
             tune_budget_s=120.0, tune_runs=1, tune_calibration_size=64, tune_variants=(("fp32", None), ("int8", None)))
#: the demo's tune tries fp32, the int8 recipe, NNCF's int8 and int8-ac (the recipe with its most sensitive convs kept
#: float until the floor holds); the full `styleforge tune` adds minmax int8 and fp16


def _log(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def run_demo(out="styleforge-demo", *, steps=None, size=None, style=None, quick=False, progress=True) -> Path:
    """Run the demo into folder `out`; returns the path of ``report.html``."""
    from ...export.core.api import export_checkpoint
    from ...runtime.latency import format_bench
    from ...runtime.atomic import write_text
    from ...runtime.validation import format_report, validate_bundle
    from ..core.checkpoint import read_config
    from .trainer import train_stylizer

    cfg = dict(QUICK if quick else DEMO)
    if steps is not None:
        cfg["steps"] = steps
    if size is not None:
        cfg["size"] = size
    if style is not None:
        cfg["style"] = style
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    _log(f"training {cfg['steps']} steps at {cfg['size']}px toward {cfg['style']} (width x{cfg['width_mult']})")
    t0 = time.perf_counter()
    ckpt = train_stylizer([cfg["style"]], out / "run", steps=cfg["steps"], size=cfg["size"], batch=cfg["batch"],
                          width_mult=cfg["width_mult"], content_weight=cfg["content_weight"],
                          style_weight=cfg["style_weight"], tv_weight=cfg["tv_weight"],
                          checkpoint_every=cfg["checkpoint_every"], resume=True, progress=progress)
    timings["train"] = time.perf_counter() - t0
    run_state = json.loads((Path(ckpt) / "train_state.json").read_text())
    run_config = read_config(ckpt)
    history = run_state.get("history", [])

    _log("exporting the bundle")
    t0 = time.perf_counter()
    bundle = export_checkpoint(ckpt, out / "demo.sfbundle")
    timings["export"] = time.perf_counter() - t0

    _log("validating on ort-cpu")
    t0 = time.perf_counter()
    report = validate_bundle(bundle, backend="ort-cpu", record=True)
    timings["validate"] = time.perf_counter() - t0
    print(format_report(report), file=sys.stderr)

    _log("stylizing the sample photos with the runtime")
    t0 = time.perf_counter()
    pictures = _stylize_photos(out, bundle, cfg)
    timings["stylize"] = time.perf_counter() - t0

    _log(f"tuning: the fastest runner x precision at >= {cfg['tune_min_psnr']:g} dB")
    t0 = time.perf_counter()
    tuned, record = _tune(bundle, out / "demo-tuned.sfbundle", cfg)
    timings["tune"] = time.perf_counter() - t0

    _log(f"benchmarking fp32 (ort-cpu), the tuned bundle and PyTorch eager at {cfg['bench_sizes']}, interleaved")
    t0 = time.perf_counter()
    bench = _bench(bundle, tuned, cfg)
    timings["bench"] = time.perf_counter() - t0
    print(format_bench(bench), file=sys.stderr)
    write_text(out / "bench.json", json.dumps(bench, indent=2) + "\n")
    compare = _side_by_side(out, bundle, tuned, cfg)
    plotted = _plot(bench, out / "latency.png")
    timings["total"] = time.perf_counter() - t_all

    previews = sorted((out / "run" / "previews").glob("*.png"))
    page = _report_html(out, cfg=cfg, loss_network=run_config.get("loss_network"), bundle=bundle, report=report,
                        bench=bench, pictures=pictures, preview=previews[-1] if previews else None,
                        history=history, timings=timings, record=record, compare=compare,
                        plot=plotted)
    write_text(out / "report.html", page)
    _log(f"done in {timings['total']:.0f} s")
    return out / "report.html"


def _stylize_photos(out: Path, bundle, cfg: dict) -> list:
    """The style and the sample photos, stylized by the runtime (plain and luminance-only): [(name, content, stylized,
    luminance)] paths."""
    from ...runtime.images import save_image
    from ...runtime.model import load
    from ..core.samples import PHOTOS, resolve_image

    model = load(bundle, backend="ort-cpu")
    save_image(out / "style.png", resolve_image(cfg["style"], max_side=256))
    pictures = []
    for name in PHOTOS:
        content = resolve_image(f"sample:{name}", max_side=cfg["stylize_max_side"])
        pictures.append((name, save_image(out / "content" / f"{name}.png", content),
                         save_image(out / "stylized" / f"{name}.png", model(content)),
                         save_image(out / "stylized" / f"{name}-luminance.png", model(content, preserve_color="luminance"))))
    return pictures


def _tune(bundle, out: Path, cfg: dict):
    """``styleforge tune`` on the demo bundle (fp32 and int8 variants, every runner here): (path, record)."""
    from ...export.tune.api import tune_bundle

    return tune_bundle(bundle, out, min_psnr=cfg["tune_min_psnr"], sizes=cfg["tune_sizes"], budget_s=cfg["tune_budget_s"],
                       runs=cfg["tune_runs"], variants=cfg["tune_variants"], calibration_size=cfg["tune_calibration_size"],
                       log=lambda m: _log(f"tune: {m}"))


def _bench(bundle, tuned, cfg: dict) -> dict:
    """fp32 and tuned bundles under ``auto`` (fp32 → auto's rule, tuned → its record) and PyTorch eager, one
    interleaved run; each auto row names the runner it resolved to. The latency plot goes beside (matplotlib)."""
    from ...runtime.latency import benchmark
    from ...runtime.model import load

    bench = benchmark([bundle, tuned], sizes=cfg["bench_sizes"], backends=["auto"], runs=cfg["bench_runs"],
                      warmup=cfg["bench_warmup"])
    chosen = {str(b): load(b).session("stylize").name for b in (bundle, tuned)}
    for row in bench["rows"]:
        if row["backend"] == "auto":
            row["backend"] = chosen[row["bundle"]] + (" (tuned)" if row["bundle"] == str(tuned) else "")
    return bench


def _plot(bench: dict, path: Path) -> Path | None:
    """The latency plot (median against size per row), or None without matplotlib."""
    from ...runtime.errors import StyleForgeError
    from ...runtime.latency import plot_bench

    try:
        plot_bench(bench, path)
    except StyleForgeError as e:
        _log(f"no latency plot: {e}")
        return None
    return path


def _side_by_side(out: Path, bundle, tuned, cfg: dict) -> list:
    """fp32 (ONNX Runtime), tuned and PyTorch eager outputs on one photo, with PSNR against fp32: [(label, png, dB)]."""
    import numpy as np

    from ...export.core.torch_runner import TorchRunner
    from ...runtime.images import save_image
    from ...runtime.io_plan import image_io, pad_batch
    from ...runtime.model import load
    from ..core.samples import resolve_image

    content = resolve_image("sample:chelsea", max_side=cfg["stylize_max_side"])
    fp32 = load(bundle, backend="ort-cpu")(content)
    tuned_img = load(tuned)(content)
    m = load(bundle, backend="ort-cpu")
    graph = m.manifest.graph("stylize")
    batch, crop = pad_batch(content[None], m.size_multiple)
    feeds = {"image": image_io(graph.input("image")).encode(batch), "style_index": np.zeros(1, np.int64)}
    runner = TorchRunner(bundle, device="cpu")
    y = runner.run({k: v for k, v in feeds.items() if k in runner.input_names})["stylized"]
    eager = image_io(graph.output("stylized")).decode(y, crop=crop)[0]

    def psnr(a):
        d = a.astype(np.float64) - fp32.astype(np.float64)
        mse = float(np.mean(d * d))
        return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)

    return [(label, save_image(out / "compare" / f"{key}.png", img), psnr(img))
            for key, label, img in (("fp32", "fp32 on ONNX Runtime", fp32), ("tuned", "tuned bundle", tuned_img),
                                    ("eager", "PyTorch eager", eager))]


def _rel(path: Path, base: Path) -> str:
    return html.escape(Path(path).relative_to(base).as_posix())


def _tuning_html(out: Path, record, compare, plot) -> str:
    """The tuning's winner and table, the latency plot, and fp32 | tuned | eager side by side with PSNR."""
    from ...export.tune.commands import format_table

    e = html.escape
    figs = "".join(f"<figure><img src='{_rel(p, out)}'><figcaption>{e(label)}: "
                   f"{'reference' if i == 0 else ('identical' if db == float('inf') else f'{db:.1f} dB vs fp32')}"
                   f"</figcaption></figure>" for i, (label, p, db) in enumerate(compare))
    return (f"<h2>Tuned: {e(record.variant)} on {e(record.runner)} {e(json.dumps(record.options))}</h2>"
            f"<p><code>styleforge tune</code> measured every runner and precision this machine can run "
            f"({e(record.host.cpu)}; {e(' '.join(record.host.isa))}) and kept the fastest at &ge; {record.min_psnr:g} dB "
            f"against fp32; <code>auto</code> uses it on this machine.</p><pre>{e(format_table(record))}</pre>"
            + (f"<h2>Latency plot</h2><img src='{_rel(plot, out)}'>" if plot else "")
            + f"<h2>fp32, tuned and PyTorch eager outputs</h2>{figs}")


def _report_html(out: Path, *, cfg, loss_network, bundle, report, bench, pictures, preview, history, timings,
                 record=None, compare=(), plot=None) -> str:
    from ...runtime.tables import bench_table, render_html, validation_table

    e = html.escape
    tol = report["cases"][0]["outputs"][0]["tolerance"] if report["cases"] else {}
    pics = "".join(
        f"<figure><img src='{_rel(c, out)}'><img src='{_rel(s, out)}'><img src='{_rel(l, out)}'>"
        f"<figcaption>{e(n)}: content | stylized | stylized, luminance only</figcaption></figure>"
        for n, c, s, l in pictures)
    first, last = (history[0], history[-1]) if history else ({}, {})
    loss_rows = "".join(f"<tr><td>{e(k)}</td><td>{first.get(k, float('nan')):.4g}</td><td>{last.get(k, float('nan')):.4g}</td></tr>"
                        for k in ("content", "style", "tv", "total"))
    random_note = ("<p class=warn>The loss network is a VGG16 with fixed-seed random weights (no ImageNet weights were "
                   "given). With network access, <code>styleforge train stylizer --vgg-weights imagenet</code> uses "
                   "torchvision's weights (fetched once into torch.hub's cache) for the published look.</p>"
                   if str(loss_network).startswith("random") else "")
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>StyleForge demo</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
figure{{display:inline-block;margin:.5em}}figure img{{margin-right:4px;max-height:256px}}
.ok{{color:#080}}.fail{{color:#c00;font-weight:bold}}.warn{{background:#fff4d6;padding:.5em}}code{{background:#eee}}</style>
</head><body>
<h1>StyleForge demo</h1>
<p>A feed-forward stylizer (Johnson et al. 2016; TransformerNet, width ×{cfg['width_mult']}) trained for
{cfg['steps']} steps (batch {cfg['batch']}) on {cfg['size']}px crops of the bundled sample photos toward
<code>{e(cfg['style'])}</code> (content weight {cfg['content_weight']:g}, style weight {cfg['style_weight']:g}, TV weight {cfg['tv_weight']:g}),
exported to <code>{e(Path(bundle).name)}</code>, validated on ONNX Runtime, and run by the lean runtime
(numpy + onnxruntime, no torch). Phase times: {e(timing)}.</p>
<h2>Loss network</h2><p><b>{e(str(loss_network))}</b> — VGG16; content relu2_2; style relu1_2, relu2_2, relu3_3, relu4_3.</p>
{random_note}
<h2>Style</h2><img src="style.png" style="max-height:256px">
<h2>Pictures (stylized by the runtime)</h2>{pics}
{f'<h2>Last training preview</h2><img src="{_rel(preview, out)}">' if preview else ''}
<h2>Training losses (weighted)</h2><table><tr><th>term</th><th>step 1</th><th>step {last.get('step', '')}</th></tr>{loss_rows}</table>
<h2>Validation: ONNX Runtime CPU vs PyTorch outputs stored at export</h2>
{render_html(validation_table(report))}
<p>Tolerances: {e(json.dumps(tol))}. Overall: <b class={'ok' if report['passed'] else 'fail'}>{'PASS' if report['passed'] else 'FAIL'}</b></p>
{_tuning_html(out, record, compare, plot) if record is not None else ''}
<h2>Latency: fp32 and tuned bundles vs PyTorch eager (batch 1, {bench['runs']} interleaved runs after {bench['warmup']} warm-up; milliseconds)</h2>
{render_html(bench_table(bench))}
<p>Machine: {e(str(bench['machine']))}</p>
</body></html>
"""
