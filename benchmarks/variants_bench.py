"""The target table of docs/deploy.md in one command (issue #10): precision variants vs PyTorch, same run.

    python benchmarks/variants_bench.py [--demo B] [--w1 B] [--wct B] [--threads 2] [--runs 5] [--json OUT]

1. demo stylizer (width 0.5), 512², 2 threads: int8 variant vs PyTorch eager, PSNR of the int8 variant vs the fp32
   bundle's output on the four bundled photos (and on four held-out scikit-image pictures, as a check that the
   calibration — those same photos — did not overfit);
2. the same for the width-1 stylizer;
3. five-level WCT bundle, 512², style statistics cached, vs the PytorchWCT-style pipeline (one encoder per level,
   fp64 eigh): fp32 clean-up and int8 variants, PSNR vs the fp32 bundle;
4. an imported third-party stylizer (a Johnson-style net exported by torch.onnx, NHWC in [0, 1], nothing of
   StyleForge inside): the runtime's model(image) vs a bare onnxruntime InferenceSession.run on a prepared float
   tensor, same threads; and its int8 variant vs the original, PSNR on the photos.

Variants are converted into --workdir (reused when their parent is unchanged, so a rerun only times). Timing is
interleaved (runtime/latency.py): each round runs every contender twice and keeps the second. Prints the table and
writes JSON; bounded to a few minutes per bundle on 2 cores. Report `uptime` with the numbers.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

try:
    import styleforge.runtime  # noqa: F401
except ImportError:  # not pip-installed: map the source folders (benchmarks/sfpath.py)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import sfpath

    sfpath.install()

SCRATCH = Path("/work/scratch/i10")
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
HELDOUT = ("immunohistochemistry", "hubble_deep_field", "retina", "colorwheel")
CAL = [f"sample:{p}" for p in PHOTOS]


def picture(name: str, size: int) -> np.ndarray:
    from PIL import Image

    from styleforge.train.core.samples import sample_image

    try:
        a = sample_image(name)
    except Exception:
        import skimage.data

        a = getattr(skimage.data, name)()
        a = a[0] if isinstance(a, tuple) else a
        a = np.repeat(a[..., None], 3, -1) if a.ndim == 2 else a[..., :3]
    return np.asarray(Image.fromarray(np.ascontiguousarray(a).astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR))


def psnr(a, b) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def variant(parent: Path, workdir: Path, precision: str, calibration_size: int, io_: str = "float-nchw") -> Path:
    """The converted variant, reused when it was made from this very parent."""
    from styleforge.export.convert.api import convert_bundle
    from styleforge.runtime.bundle import read_manifest, sha256_file

    out = workdir / f"{parent.name.removesuffix('.sfbundle')}-{precision}{'-u8' if io_ != 'float-nchw' else ''}.sfbundle"
    if out.exists():
        from styleforge.export.convert.int8 import Int8Recipe

        lin = read_manifest(out).lineage
        same_method = precision != "int8" or lin.conversion.options.get("calibration_method") == Int8Recipe().method
        if lin and lin.parent and lin.parent.manifest_sha256 == sha256_file(parent / "manifest.json") and same_method:
            return out
    t0 = time.perf_counter()
    _, report = convert_bundle(parent, out, precision=precision, io=io_,
                               calibration=CAL if precision == "int8" else (), calibration_size=calibration_size)
    print(f"  converted {out.name} in {time.perf_counter() - t0:.0f} s: validation "
          f"{'PASS' if report['passed'] else 'FAIL'} ({report['tolerance_profile']})", flush=True)
    return out


def quality(models: dict, call, names, size: int) -> dict:
    """min PSNR over pictures of each model's output vs the first model's."""
    ref = None
    out = {}
    for label, m in models.items():
        outs = [call(m, picture(n, size)) for n in names]
        if ref is None:
            ref = outs
            continue
        out[label] = min(psnr(a, b) for a, b in zip(outs, ref))
    return out


def stylizer_target(bundle: Path, workdir: Path, a) -> dict:
    from styleforge.runtime import load
    from styleforge.runtime.latency import benchmark

    int8 = variant(bundle, workdir, "int8", 512)
    rep = benchmark([bundle, int8], sizes=str(a.size), threads=a.threads, runs=a.runs, warmup=1)
    rows = {r["backend"] if r["backend"].startswith("torch") else Path(r["bundle"]).name: r for r in rep["rows"]}
    models = {"fp32": load(bundle, threads=a.threads), "int8": load(int8, threads=a.threads)}
    photos = quality(models, lambda m, x: m(x), PHOTOS, a.size)["int8"]
    held = quality(models, lambda m, x: m(x), HELDOUT, a.size)["int8"]
    eager = rows["torch-eager"]["median_ms"]
    return {"bundle": str(bundle), "variant": str(int8), "torch_eager_ms": eager,
            "fp32_ms": rows[bundle.name]["median_ms"], "int8_ms": rows[int8.name]["median_ms"],
            "fp32_speedup": eager / rows[bundle.name]["median_ms"], "int8_speedup": eager / rows[int8.name]["median_ms"],
            "int8_psnr_photos_min": photos, "int8_psnr_heldout_min": held, "rows": rep["rows"], "load_avg": rep["load_avg"]}


def wct_target(bundle: Path, workdir: Path, a) -> dict:
    from styleforge.runtime import load
    from styleforge.runtime.latency import benchmark

    fp32 = variant(bundle, workdir, "fp32", 256)
    int8 = variant(bundle, workdir, "int8", 256)
    from styleforge.runtime.bundle import read_manifest

    ckpt = None if read_manifest(bundle).source_checkpoint else a.wct_dir  # bundles exported before it was recorded
    rep = benchmark([bundle, fp32, int8], sizes=str(a.size), threads=a.threads, runs=max(2, a.runs // 2), warmup=1,
                    checkpoint=ckpt)
    rows = {r["backend"] if r["backend"].startswith("torch") else Path(r["bundle"]).name: r for r in rep["rows"]}
    style = picture("mosaic", 256)
    models = {"fp32": load(bundle, threads=a.threads), "int8": load(int8, threads=a.threads)}
    q = quality(models, lambda m, x: m(x, style=style), PHOTOS[:2], a.size)["int8"]
    exact = rows["torch-exact"]["median_ms"]
    return {"bundle": str(bundle), "torch_exact_ms": exact, "fp32_ms": rows[bundle.name]["median_ms"],
            "fp32_clean_ms": rows[fp32.name]["median_ms"], "int8_ms": rows[int8.name]["median_ms"],
            "fp32_speedup": exact / rows[bundle.name]["median_ms"], "fp32_clean_speedup": exact / rows[fp32.name]["median_ms"],
            "int8_speedup": exact / rows[int8.name]["median_ms"], "int8_psnr_photos_min": q, "rows": rep["rows"],
            "load_avg": rep["load_avg"]}


def foreign_stylizer_onnx() -> bytes:
    """A Johnson-style stylizer exported by torch.onnx with nothing of StyleForge: float N×H×W×3 in [0, 1] → same."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c1 = nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect")
            self.c2 = nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect")
            self.n1, self.n2 = nn.InstanceNorm2d(c, affine=True), nn.InstanceNorm2d(c, affine=True)

        def forward(self, x):
            return x + self.n2(self.c2(F.relu(self.n1(self.c1(x)))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 16, 9, padding=4, padding_mode="reflect")
            self.c2, self.c3 = nn.Conv2d(16, 32, 3, 2, padding=1), nn.Conv2d(32, 64, 3, 2, padding=1)
            self.res = nn.Sequential(*[Block(64) for _ in range(3)])
            self.u1, self.u2 = nn.Conv2d(64, 32, 3, padding=1), nn.Conv2d(32, 16, 3, padding=1)
            self.out = nn.Conv2d(16, 3, 9, padding=4, padding_mode="reflect")
            self.ns = nn.ModuleList(nn.InstanceNorm2d(c, affine=True) for c in (16, 32, 64, 32, 16))

        def forward(self, x):
            y = x.permute(0, 3, 1, 2)
            y = F.relu(self.ns[0](self.c1(y)))
            y = F.relu(self.ns[1](self.c2(y)))
            y = F.relu(self.ns[2](self.c3(y)))
            y = self.res(y)
            y = F.relu(self.ns[3](self.u1(F.interpolate(y, scale_factor=2.0, mode="nearest"))))
            y = F.relu(self.ns[4](self.u2(F.interpolate(y, scale_factor=2.0, mode="nearest"))))
            return torch.sigmoid(self.out(y)).permute(0, 2, 3, 1)

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    buf = io.BytesIO()
    torch.onnx.export(net, (torch.rand(1, 64, 64, 3),), buf, dynamo=False, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {1: "h", 2: "w"}, "y": {1: "h", 2: "w"}}, opset_version=17)
    return buf.getvalue()


def imported_target(workdir: Path, a) -> dict:
    import onnxruntime as ort

    from styleforge.export.onnx_import.api import import_onnx
    from styleforge.runtime import load
    from styleforge.runtime.latency import _run_interleaved

    src = workdir / "foreign_stylizer.onnx"
    src.write_bytes(foreign_stylizer_onnx())
    bundle, report = import_onnx(src, workdir / "foreign.sfbundle", interface="stylizer", value_range="0,1", multiple_of=4)
    assert report["passed"]
    int8 = variant(bundle, workdir, "int8", 512)
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.log_severity_level = 3
    bare = ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])  # ONNX Runtime's defaults
    so2 = ort.SessionOptions()
    so2.intra_op_num_threads = a.threads
    so2.log_severity_level = 3
    so2.add_session_config_entry("session.intra_op.allow_spinning", "0")  # the runtime's session options
    bare_same = ort.InferenceSession(str(src), so2, providers=["CPUExecutionProvider"])
    model, model8 = load(bundle, threads=a.threads), load(int8, threads=a.threads)
    img = picture("astronaut", a.size)
    x = img[None].astype(np.float32) / 255.0

    def reference():  # what a user of the bare model writes: scale, run, clamp, round
        y = bare.run(None, {"x": img[None].astype(np.float32) / 255.0})[0][0]
        return np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8)

    fns = {"bare": lambda: bare.run(None, {"x": x}), "bare-same-options": lambda: bare_same.run(None, {"x": x}),
           "runtime": lambda: model(img), "runtime-int8": lambda: model8(img)}
    outs, times = _run_interleaved(fns, a.runs * 2, 2, {})
    med = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
    q = quality({"fp32": model, "int8": model8}, lambda m, x: m(x), PHOTOS, a.size)["int8"]
    grey = int(np.abs(model(img).astype(int) - reference()).max())
    return {"bare_ms": med["bare"], "bare_same_options_ms": med["bare-same-options"], "runtime_ms": med["runtime"],
            "runtime_over_bare": med["runtime"] / med["bare"],
            "runtime_over_bare_same_options": med["runtime"] / med["bare-same-options"],
            "int8_ms": med["runtime-int8"], "int8_speedup_over_original": med["runtime"] / med["runtime-int8"],
            "int8_psnr_photos_min": q, "max_grey_diff_vs_reference_pipeline": grey}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", type=Path, default=SCRATCH / "demo" / "demo.sfbundle")
    ap.add_argument("--w1", type=Path, default=SCRATCH / "w1.sfbundle")
    ap.add_argument("--wct", type=Path, default=SCRATCH / "wct.sfbundle")
    ap.add_argument("--wct-dir", type=Path, default=SCRATCH / "wct", help="the WCT level runs (for the PyTorch row)")
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "styleforge-variants")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="demo,w1,wct,imported")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(a.threads)
    res = {"size": a.size, "threads": a.threads, "load_before": list(os.getloadavg())}
    only = a.only.split(",")
    for key, fn in (("demo", lambda: stylizer_target(a.demo, a.workdir, a)), ("w1", lambda: stylizer_target(a.w1, a.workdir, a)),
                    ("wct", lambda: wct_target(a.wct, a.workdir, a)), ("imported", lambda: imported_target(a.workdir, a))):
        if key not in only:
            continue
        t0 = time.perf_counter()
        print(f"[{key}] …", flush=True)
        try:
            res[key] = fn()
        except Exception as e:  # one missing bundle must not cost the others' numbers
            res[key] = {"error": f"{type(e).__name__}: {e}"}
        res[key]["seconds"] = time.perf_counter() - t0
        print(f"[{key}] {time.perf_counter() - t0:.0f} s", flush=True)
    res["load_after"] = list(os.getloadavg())
    print(table(res))
    if a.json:
        a.json.write_text(json.dumps(res, indent=2, default=float) + "\n")
        print(f"wrote {a.json}")
    return 0


def table(r: dict) -> str:
    def f(x, fmt="{:.2f}"):
        return "-" if x is None else fmt.format(x)

    s = r["size"]
    lines = [f"targets at {s}x{s}, {r['threads']} threads; load before {r['load_before']}, after {r.get('load_after')}",
             f"{'target':<44}{'baseline ms':>12}{'variant ms':>12}{'speed-up':>10}{'PSNR dB':>9}  goal"]
    for key, label in (("demo", "demo stylizer int8 vs PyTorch eager"), ("w1", "width-1 stylizer int8 vs PyTorch eager")):
        d = r.get(key)
        if d and "error" not in d:
            lines.append(f"{label:<44}{d['torch_eager_ms']:>12.0f}{d['int8_ms']:>12.0f}{d['int8_speedup']:>9.2f}x"
                         f"{d['int8_psnr_photos_min']:>9.1f}  >=3x, >=35 dB (fp32: {d['fp32_speedup']:.2f}x; held-out "
                         f"PSNR {d['int8_psnr_heldout_min']:.1f})")
        elif d:
            lines.append(f"{label:<44}error: {d['error']}")
    d = r.get("wct")
    if d and "error" not in d:
        best = max(("fp32_speedup", "fp32_clean_speedup", "int8_speedup"), key=lambda k: d[k])
        lines.append(f"{'5-level WCT vs PytorchWCT-style (exact)':<44}{d['torch_exact_ms']:>12.0f}{d['int8_ms']:>12.0f}"
                     f"{d['int8_speedup']:>9.2f}x{d['int8_psnr_photos_min']:>9.1f}  >=3x, >=35 dB (fp32 bundle "
                     f"{d['fp32_speedup']:.2f}x, fp32 clean-up {d['fp32_clean_speedup']:.2f}x; best: {best})")
    elif d:
        lines.append(f"{'5-level WCT':<44}error: {d['error']}")
    d = r.get("imported")
    if d and "error" not in d:
        lines.append(f"{'imported stylizer: model(image) vs bare ORT':<44}{d['bare_ms']:>12.1f}{d['runtime_ms']:>12.1f}"
                     f"{d['runtime_over_bare']:>9.3f}x{'':>9}  <=1.05x (vs a bare session with the runtime's "
                     f"options: {d['runtime_over_bare_same_options']:.3f}x; max grey diff vs reference pipeline "
                     f"{d['max_grey_diff_vs_reference_pipeline']})")
        lines.append(f"{'imported stylizer: int8 vs original':<44}{d['runtime_ms']:>12.1f}{d['int8_ms']:>12.1f}"
                     f"{d['int8_speedup_over_original']:>9.2f}x{d['int8_psnr_photos_min']:>9.1f}  faster, >=35 dB")
    elif d:
        lines.append(f"{'imported stylizer':<44}error: {d['error']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
