"""Load test of `styleforge serve` (issue 13, docs/serve.md): loopback only, bounded in time, stops by itself.

    python benchmarks/serve_load.py --duration 60 --clients 8 --repeats 2 --out serve-load

For each repeat it runs, interleaved (A B A B …, so machine-load drifts hit both), a fresh server with dynamic
batching (``--max-batch 8``) and one with ``--max-batch 1``, each under N closed-loop clients for ``--duration``
seconds, then one overload run (4×N clients against ``--queue 4``: the 503s are deliberate). It records throughput,
p50/p99 latency, the batch-size distribution (X-Batch-Size), status codes and transport errors, and the server's
RSS every 0.5 s (VmRSS from /proc: flat = no leak), and writes OUT/results.json and OUT/serve_load.png.
Without --bundle it trains and exports a tiny stylizer first (needs the train extra).
Each run starts with --warmup seconds of the same load, not counted, so every batch size has occurred and ONNX
Runtime's memory arena has reached its working size before memory is watched. Exit status 1 if any run saw an
error other than a deliberate 503, or the server's RSS grew by more than 10 MB from the first half of a run to the
second.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def make_bundle(out: Path, width: float) -> Path:
    """A tiny stylizer (1 training step; weights do not matter for speed) exported to OUT/bench.sfbundle."""
    bundle = out / "bench.sfbundle"
    if not bundle.exists():
        cli = [sys.executable, "-m", "styleforge.runtime.cli"]
        subprocess.run(cli + ["train", "stylizer", "--style", "sample:mosaic", "--out", str(out / "run"), "--steps", "1",
                              "--size", "32", "--batch", "1", "--width-mult", str(width), "--no-progress"], check=True)
        subprocess.run(cli + ["export", str(out / "run"), "--out", str(bundle), "--no-validate"], check=True,
                       stdout=subprocess.DEVNULL)
    return bundle


def one_run(bundle: Path, name: str, flags: list[str], clients: int, duration: float, body: bytes, out: Path,
            warmup: float = 10.0) -> dict:
    import httpx

    from styleforge.runtime.serve.launch import running_server
    from styleforge.runtime.serve.served import bundle_name

    url_path = f"/v1/models/{bundle_name(bundle)}/stylize"
    with running_server(bundle, *flags, "--log-level", "warning", log=out / f"server-{name}.log") as (base, proc):
        samples, stop = [], threading.Event()

        def sampler():
            t0 = time.perf_counter()
            while not stop.is_set():
                v = rss_mb(proc.pid)
                if v is not None:
                    samples.append((round(time.perf_counter() - t0, 2), round(v, 1)))
                stop.wait(0.5)

        lat, codes, batches, errors = [], collections.Counter(), collections.Counter(), collections.Counter()

        async def client(c, deadline):
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    r = await c.post(base + url_path, content=body, headers={"Content-Type": "image/png"})
                except httpx.HTTPError as e:
                    errors[type(e).__name__] += 1
                    continue
                codes[r.status_code] += 1
                if r.status_code == 200:
                    lat.append(time.perf_counter() - t)
                    batches[int(r.headers["X-Batch-Size"])] += 1
                elif r.status_code == 503:  # back off as told (a tenth of Retry-After: keep the pressure on)
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")) / 10)

        async def main():
            limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
            async with httpx.AsyncClient(timeout=120, limits=limits) as c:
                # warm-up under the same load, not counted: every batch size occurs and ONNX Runtime's arena
                # reaches its working size before memory is watched
                warm_end = time.perf_counter() + warmup
                await asyncio.gather(*[client(c, warm_end) for _ in range(clients)])
                lat.clear(), codes.clear(), batches.clear(), errors.clear()
                thread.start()
                t0 = time.perf_counter()
                await asyncio.gather(*[client(c, t0 + duration) for _ in range(clients)])
                return time.perf_counter() - t0

        thread = threading.Thread(target=sampler, daemon=True)
        load = os.getloadavg()[0]
        wall = asyncio.run(main())
        stop.set()
        thread.join()
    ms = np.array(lat) * 1000
    rss = [v for _, v in samples]
    half = len(rss) // 2
    growth = max(rss[half:]) - max(rss[:half]) if half > 1 else 0.0
    return {"run": name, "flags": flags, "clients": clients, "seconds": round(wall, 2), "ok": len(lat),
            "throughput_rps": round(len(lat) / wall, 2),
            "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
            "p99_ms": round(float(np.percentile(ms, 99)), 1) if len(ms) else None,
            "codes": {str(k): v for k, v in sorted(codes.items())}, "transport_errors": dict(errors),
            "batch_sizes": {str(k): v for k, v in sorted(batches.items())},
            "rss_mb": {"first": rss[0] if rss else None, "max": max(rss or [0]),
                       "growth": round(growth, 1)},  # max over the run's 2nd half − max over its 1st half
            "rss_samples": samples, "loadavg_1m_at_start": round(load, 2)}


def plot(results: list[dict], path: Path, title: str) -> None:
    """Throughput per run (bars, with p50/p99) and server RSS over time (lines), drawn with Pillow."""
    from PIL import Image, ImageDraw

    W, H = 1100, 420
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    d.text((20, 8), title, fill="black")
    colours = {"batch8": (31, 119, 180), "batch1": (214, 39, 40), "overload": (120, 120, 120)}
    # panel 1: throughput
    x0, y0, y1 = 40, 40, H - 70
    top = max(r["throughput_rps"] for r in results) * 1.15 or 1
    d.text((x0, 24), "throughput (req/s); p50 / p99 latency (ms)", fill="black")
    d.line([(x0, y1), (x0 + 520, y1)], fill="black")
    bw = min(60, 500 // max(1, len(results)) - 10)
    for i, r in enumerate(results):
        kind = r["run"].split("#")[0]
        x = x0 + 10 + i * (bw + 10)
        h = (y1 - y0) * r["throughput_rps"] / top
        d.rectangle([x, y1 - h, x + bw, y1], fill=colours.get(kind, (0, 0, 0)))
        d.text((x, y1 - h - 12), f"{r['throughput_rps']:.1f}", fill="black")
        d.text((x, y1 + 4), r["run"], fill="black")
        d.text((x, y1 + 18), f"{r['p50_ms']}/{r['p99_ms']}", fill="black")
    # panel 2: RSS over time
    x0, x1 = 600, W - 20
    tmax = max((s[-1][0] for s in (r["rss_samples"] for r in results) if s), default=1)
    vmax = max((v for r in results for _, v in r["rss_samples"]), default=1) * 1.1
    d.text((x0, 24), f"server RSS (MB, 0..{vmax:.0f}) over {tmax:.0f} s", fill="black")
    d.line([(x0, y1), (x1, y1)], fill="black")
    d.line([(x0, y0), (x0, y1)], fill="black")
    for r in results:
        pts = [(x0 + (x1 - x0) * t / tmax, y1 - (y1 - y0) * v / vmax) for t, v in r["rss_samples"]]
        if len(pts) > 1:
            d.line(pts, fill=colours.get(r["run"].split("#")[0], (0, 0, 0)), width=2)
    d.text((x0, H - 40), "blue: --max-batch 8   red: --max-batch 1   grey: overload (--queue 4, 4x clients)", fill="black")
    img.save(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=None, help="stylizer bundle (default: a tiny one made in OUT)")
    ap.add_argument("--width-mult", type=float, default=0.25, help="width of the tiny stylizer made without --bundle")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per run (default 60)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent closed-loop clients (default 8)")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved batching / --max-batch 1 pairs (default 2)")
    ap.add_argument("--size", type=int, default=256, help="request image side in pixels (default 256)")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds of uncounted load before each run (default 10)")
    ap.add_argument("--workers", type=int, default=1, help="server --workers")
    ap.add_argument("--no-overload", dest="overload", action="store_false", help="skip the overload run")
    ap.add_argument("--out", default="serve-load", help="output folder (results.json, serve_load.png, logs)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    bundle = Path(a.bundle) if a.bundle else make_bundle(out, a.width_mult)
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (a.size, a.size, 3), dtype=np.uint8)).save(buf, "PNG")
    body = buf.getvalue()
    common = ["--max-delay-ms", "5", "--queue", "64", "--workers", str(a.workers)]
    plan = []
    for k in range(a.repeats):
        pair = [("batch8", ["--max-batch", "8", *common]), ("batch1", ["--max-batch", "1", *common])]
        plan += pair if k % 2 == 0 else pair[::-1]
    results = []
    for i, (kind, flags) in enumerate(plan):
        r = one_run(bundle, f"{kind}#{i // 2 + 1}", flags, a.clients, a.duration, body, out, a.warmup)
        print(json.dumps({k: v for k, v in r.items() if k != "rss_samples"}), flush=True)
        results.append(r)
    if a.overload:
        r = one_run(bundle, "overload", ["--max-batch", "8", "--max-delay-ms", "5", "--queue", "4", "--workers",
                                         str(a.workers)], 4 * a.clients, max(5.0, a.duration / 4), body, out, a.warmup / 2)
        print(json.dumps({k: v for k, v in r.items() if k != "rss_samples"}), flush=True)
        results.append(r)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    summary = {}
    for kind in ("batch8", "batch1"):
        tps = [r["throughput_rps"] for r in results if r["run"].startswith(kind)]
        summary[kind] = {"throughput_rps": tps, "mean": round(float(np.mean(tps)), 2) if tps else None}
    meta = {"bundle": str(bundle), "image": f"{a.size}x{a.size}", "clients": a.clients, "duration_s": a.duration,
            "uptime_at_end": uptime, "cpus": os.cpu_count(), "summary": summary}
    (out / "results.json").write_text(json.dumps({"meta": meta, "runs": results}, indent=1))
    plot(results, out / "serve_load.png", f"styleforge serve: {a.clients} clients, {a.size}x{a.size} PNG, {a.duration:.0f} s per run; "
                                          f"{uptime.split('load average:')[-1].strip()} load")
    print(json.dumps(meta))
    bad = [r["run"] for r in results if r["transport_errors"] or set(r["codes"]) - {"200", "503"}
           or ("503" in r["codes"] and r["run"] != "overload") or r["rss_mb"]["growth"] > 10]
    if bad:
        print(f"problems in: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
