"""Load run of a `styleforge triton --backend python` repository in a real tritonserver (the nvidia-pytriton wheel's,
tests/triton_server.py), loopback only, bounded in time, stops by itself.

    python benchmarks/fetch_tritonserver.py /tmp/sf-triton && export STYLEFORGE_TRITONSERVER=/tmp/sf-triton
    python benchmarks/triton_load.py [--bundle B.sfbundle] [--clients 4] [--duration 20] [--size 128] [--max-batch 8]

N closed-loop tritonclient HTTP clients send one uint8 image each per request for --duration seconds (after --warmup
seconds not counted); prints requests/s, p50/p99 latency and checks one answer against StyleForge's own output
(equal). Without --bundle it uses the tests' toy stylizer (a 2-style 1x1-conv graph: this measures Triton's and the
Python backend's overhead more than the model). Speed figures depend on the machine's load: give `uptime` with them.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--max-batch", type=int, default=8)
    args = ap.parse_args()

    import tritonclient.http as http

    import triton_server
    from styleforge.runtime import load
    from styleforge.runtime.cli import main as cli

    if triton_server.why_not():
        sys.exit(triton_server.why_not())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.bundle is None:
            from toy_bundles import write_stylizer

            args.bundle = write_stylizer(tmp / "toy.sfbundle")
        name = args.bundle.stem
        assert cli(["triton", str(args.bundle), "--out", str(tmp / "repo"), "--backend", "python",
                    "--max-batch", str(args.max_batch)]) == 0
        server = triton_server.Server(tmp / "repo", tmp, lifetime_s=int(args.duration + args.warmup + 120))
        try:
            server.wait_live()
            x = np.random.default_rng(0).integers(0, 256, (1, args.size, args.size, 3), dtype=np.uint8)
            style = np.array([[0]], np.int64)

            def request(client):
                ins = [http.InferInput("image", list(x.shape), "UINT8"), http.InferInput("style_index", [1, 1], "INT64")]
                ins[0].set_data_from_numpy(x)
                ins[1].set_data_from_numpy(style)
                return client.infer(name, ins).as_numpy("stylized")

            ready = time.monotonic() + 60
            while not http.InferenceServerClient(server.url).is_model_ready(name) and time.monotonic() < ready:
                time.sleep(0.3)
            got = request(http.InferenceServerClient(server.url))
            ref = np.stack(load(args.bundle, backend="ort-cpu").stylize_batch(list(x), style_index=[0]))
            equal = bool(np.array_equal(got, ref))
            latencies, stop_at = [], [0.0]
            count_from = time.monotonic() + args.warmup
            stop_at[0] = count_from + args.duration

            def client_loop():
                client = http.InferenceServerClient(server.url)
                while (t0 := time.monotonic()) < stop_at[0]:
                    request(client)
                    if t0 >= count_from:
                        latencies.append(time.monotonic() - t0)

            threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            server.stop()
    lat = np.sort(np.array(latencies)) * 1000
    print(f"{name} {args.size}x{args.size}, {args.clients} clients, max_batch {args.max_batch}, {args.duration:.0f} s: "
          f"{len(lat) / args.duration:.1f} req/s, p50 {np.percentile(lat, 50):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms; "
          f"answer equal to StyleForge's: {equal}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
