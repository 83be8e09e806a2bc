"""Abuse suite of issue 20, the long cases (the fast ones are tests/test_serve_abuse.py): loopback only (127.0.0.1),
every loop bounded, stops by itself.

    python benchmarks/abuse.py --minutes 10 --clients 8 --slow 300 --out abuse-run

1. bombs: the 2,000,000×8 PNG (~50 KB) on a stylizer and on a translator with size multiple 256 → time to the
   refusal and the server's peak-RSS growth (VmHWM);
2. slow headers: --slow connections that send half a request head and stall → /healthz latency while they are
   open, and how many the header timeout has closed (and when);
3. soak: --clients closed-loop clients for --minutes, each request drawn from valid / invalid (not an image, EPS as
   image/png) / oversized (the strip) / disconnecting (half a body, then close) → status counts, unexpected 5xx
   (any 5xx but a 503 with Retry-After), RSS every 2 s: flat means the median of the last fifth within ±5 % of the
   median of the first fifth after the first minute.

The bundles are the tests' toy bundles (tests/toy_bundles.py; torch-free, instant graphs), so the server's own
machinery is what is measured. Writes OUT/abuse.json; exit status 1 if a check fails.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
import sfpath  # noqa: E402

sfpath.install()
# the fast suite's builders: the toy bundles, the strip, the EPS file, /proc memory
from test_serve_abuse import EPS, png, rss_mb, strip_png, write_translator  # noqa: E402


def peak_mb(pid: int) -> float:
    return rss_mb(pid, "VmHWM")


def bundles(d: Path) -> list[Path]:
    from toy_bundles import write_stylizer

    return [write_stylizer(d / "toy.sfbundle"), write_translator(d / "unet.sfbundle", 256)]


def bombs(base: str, pid: int) -> list[dict]:
    import httpx

    data, out = strip_png(), []
    for model, verb in (("toy", "stylize"), ("unet", "translate")):
        before = peak_mb(pid)
        t0 = time.perf_counter()
        r = httpx.post(f"{base}/v1/models/{model}/{verb}", content=data, headers={"Content-Type": "image/png"},
                       timeout=120)
        out.append({"case": f"2000000x8 PNG ({len(data):,} B) on {model}", "status": r.status_code,
                    "seconds": round(time.perf_counter() - t0, 3),
                    "peak_rss_growth_mb": round(peak_mb(pid) - before, 1),
                    "error": r.json().get("error", "")[:160]})
    return out


def slow_headers(base: str, n: int, timeout_s: float) -> dict:
    import httpx

    port = int(base.rsplit(":", 1)[1])
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST /v1/models/toy/stylize HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        s.setblocking(False)
        socks.append(s)
    t_open = time.monotonic()
    lat = []
    for _ in range(5):
        t0 = time.perf_counter()
        ok = httpx.get(base + "/healthz", timeout=10).status_code == 200
        lat.append((time.perf_counter() - t0) if ok else float("inf"))
        time.sleep(0.2)
    closed, when = set(), None
    while time.monotonic() - t_open < timeout_s * 3 and len(closed) < n:
        for i, s in enumerate(socks):
            if i in closed:
                continue
            try:
                if s.recv(64) == b"":
                    closed.add(i)
            except BlockingIOError:
                pass
            except OSError:
                closed.add(i)
        when = time.monotonic() - t_open
        time.sleep(0.2)
    for s in socks:
        s.close()
    return {"connections": n, "healthz_max_s": round(max(lat), 3), "closed_by_timeout": len(closed),
            "all_closed_after_s": round(when or 0, 1)}


def one_request(c, base: str, kind: str, bodies: dict) -> str:
    """One request of `kind`; returns its outcome ("200", "400", …, "gone")."""
    url = base + "/v1/models/toy/stylize"
    if kind == "disconnecting":
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(f"POST /v1/models/toy/stylize HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
                      f"Content-Length: {len(bodies['valid']) + 5000}\r\n\r\n".encode() + bodies["valid"][:200])
        return "gone"
    r = c.post(url, content=bodies[kind], headers={"Content-Type": "image/png"})
    if r.status_code == 503 and not r.headers.get("retry-after"):
        return "503-no-retry-after"
    return str(r.status_code)


def soak(base: str, pid: int, minutes: float, clients: int) -> dict:
    import httpx

    bodies = {"valid": png(96, 128), "invalid": b"not an image at all" * 10, "eps": EPS, "oversized": strip_png()}
    kinds = ["valid", "valid", "invalid", "eps", "oversized", "disconnecting"]
    counts: dict[str, int] = {}
    lock, stop = threading.Lock(), time.monotonic() + minutes * 60

    def client(seed: int):
        rng = random.Random(seed)
        with httpx.Client(timeout=60) as c:
            while time.monotonic() < stop:
                kind = rng.choice(kinds)
                try:
                    outcome = f"{kind}:{one_request(c, base, kind, bodies)}"
                except httpx.HTTPError as e:
                    outcome = f"{kind}:transport-{type(e).__name__}"
                with lock:
                    counts[outcome] = counts.get(outcome, 0) + 1

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    samples, t0 = [], time.monotonic()
    while any(t.is_alive() for t in threads):
        samples.append((time.monotonic() - t0, rss_mb(pid)))
        time.sleep(2.0)
    for t in threads:
        t.join()
    steady = [r for t, r in samples if t >= min(60.0, minutes * 60 / 3) and r]
    k = max(1, len(steady) // 5)
    first, last = statistics.median(steady[:k]), statistics.median(steady[-k:])
    unexpected = sum(n for o, n in counts.items() if o.split(":")[1].startswith("5") and o.split(":")[1] != "503")
    unexpected += sum(n for o, n in counts.items() if o.endswith("503-no-retry-after"))
    return {"minutes": minutes, "clients": clients, "requests": sum(counts.values()),
            "outcomes": dict(sorted(counts.items())),
            "unexpected_5xx": unexpected, "rss_first_mb": round(first, 1), "rss_last_mb": round(last, 1),
            "rss_change_pct": round(100 * (last - first) / first, 2), "rss_min_mb": round(min(steady), 1),
            "rss_max_mb": round(max(steady), 1)}


def machine() -> dict:
    model = next((ln.split(":", 1)[1].strip() for ln in subprocess.run(["lscpu"], capture_output=True, text=True)
                  .stdout.splitlines() if ln.startswith("Model name")), "?")
    return {"cpu": model, "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}


def main() -> int:
    from styleforge.runtime.serve.launch import running_server

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="soak length (default 10)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--slow", type=int, default=300, help="slow-header connections (default 300)")
    ap.add_argument("--header-timeout", type=float, default=10.0, help="the server's --header-timeout (default 10)")
    ap.add_argument("--out", default="abuse-run")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"machine_before": machine()}
    with running_server(*bundles(out), "--header-timeout", args.header_timeout, "--log-level", "warning",
                        log=out / "server.log") as (base, proc):
        report["bombs"] = bombs(base, proc.pid)
        report["slow_headers"] = slow_headers(base, args.slow, args.header_timeout)
        report["soak"] = soak(base, proc.pid, args.minutes, args.clients)
        report["server_alive"] = proc.poll() is None
    report["machine_after"] = machine()
    log = (out / "server.log").read_text()
    report["tracebacks_in_log"] = log.count("Traceback")
    (out / "abuse.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    s, b, h = report["soak"], report["bombs"], report["slow_headers"]
    ok = (all(x["status"] == 413 and x["seconds"] < 1 and x["peak_rss_growth_mb"] < 100 for x in b)
          and h["healthz_max_s"] < 1 and h["closed_by_timeout"] == h["connections"]
          and s["unexpected_5xx"] == 0 and abs(s["rss_change_pct"]) <= 5 and report["tracebacks_in_log"] == 0)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
