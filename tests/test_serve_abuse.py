"""Abuse cases of issue 20 against a real `styleforge serve` on loopback (127.0.0.1 only), fast ones: a cheap pixel
bomb, a non-image labelled image/png, cross-site requests, slow headers, a client that leaves mid-upload, a runner
fault; and the batcher's rules (deadline, gone clients, one failure per request) on a fake runner. Every loop is
bounded; the long cases (hundreds of connections, a soak) are benchmarks/abuse.py."""
from __future__ import annotations

import asyncio
import io
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from PIL import Image  # noqa: E402

from styleforge.runtime.serve.launch import running_server  # noqa: E402
from toy_bundles import _writer, translate_graph, write_stylizer  # noqa: E402

PNG = {"Content-Type": "image/png"}
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nnewpath 0 0 moveto 8 8 lineto stroke showpage\n"


def png(h=32, w=32, seed=0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def strip_png() -> bytes:
    """The issue's cheap bomb: a 2,000,000×8 PNG of ~50 KB."""
    buf = io.BytesIO()
    Image.new("RGB", (2_000_000, 8)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident (VmRSS) or peak resident (VmHWM) memory of a process in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


def children(pid: int) -> list[str]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += (task / "children").read_text().split()
    return out


def write_translator(path: Path, multiple: int, graph: bytes | None = None) -> Path:
    """A one-way toy translator (invert) whose size rule is `multiple` (pix2pix's U-Net: 256)."""
    from styleforge.runtime.families.translator import TranslatorConfig

    w = _writer(path.stem, "pix2pix", "image2image", "translator", TranslatorConfig(directions={"translate": "A->B"}))
    w.add_graph("translate", graph or translate_graph("invert"))
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, multiple, multiple)).astype(np.float32)
    w.add_golden("fwd", "translate", {"image": x}, {"translated": 255 - x})
    w.set_size_constraints(multiple_of=multiple, min_side=multiple)
    return w.write(path)


def square_only_graph() -> bytes:
    """translated = 255 - image, plus 0 * its transpose: runs on square images, fails in ONNX Runtime otherwise."""
    from onnx import TensorProto, helper

    from toy_bundles import _model

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    y = helper.make_tensor_value_info("translated", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    nodes = [helper.make_node("Transpose", ["image"], ["t"], perm=[0, 1, 3, 2]),
             helper.make_node("Mul", ["t", "zero"], ["z"]),
             helper.make_node("Sub", ["full", "image"], ["inv"]),
             helper.make_node("Add", ["inv", "z"], ["translated"])]
    return _model(nodes, [x], [y], {"full": np.float32(255), "zero": np.float32(0)})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("abuse")
    paths = [write_stylizer(d / "toy.sfbundle"), write_translator(d / "unet.sfbundle", 256),
             write_translator(d / "square.sfbundle", 4, square_only_graph())]
    log = d / "server.log"
    with running_server(*paths, "--header-timeout", "1", "--body-timeout", "1", "--max-delay-ms", "5",
                        log=log) as (base, proc):
        yield base, proc, log


@pytest.mark.parametrize("model, verb", [("toy", "stylize"), ("unet", "translate")])
def test_strip_bomb_is_refused_from_its_header(served, model, verb):
    base, proc, _ = served
    data = strip_png()
    assert len(data) < 100_000
    peak = rss_mb(proc.pid, "VmHWM")
    r = httpx.post(f"{base}/v1/models/{model}/{verb}", content=data, headers=PNG, timeout=60)
    assert r.status_code == 413, r.text
    assert "limit" in r.json()["error"] and "2000000x8" in r.json()["error"]
    if model == "unet":  # padded to the U-Net's multiple of 256: 32× the pixels, and the message says so
        assert "2000128" in r.json()["error"]
    assert rss_mb(proc.pid, "VmHWM") - peak < 100  # nothing was decoded: the peak did not move


def test_eps_labelled_png_is_refused_by_its_signature(served):
    base, proc, _ = served
    r = httpx.post(f"{base}/v1/models/toy/stylize", content=EPS, headers=PNG, timeout=30)
    assert r.status_code == 400 and "EPS" in r.json()["error"] and "PNG, JPEG" in r.json()["error"]
    assert children(proc.pid) == []


def test_eps_never_reaches_a_decoder(monkeypatch):
    import subprocess

    from styleforge.runtime.errors import ImageError
    from styleforge.runtime.image_guard import open_image

    def no_child(*a, **k):
        raise AssertionError("a child process was started")

    monkeypatch.setattr(subprocess, "Popen", no_child)
    for data in (EPS, b"\xc5\xd0\xd3\xc6" + EPS, b"8BPS" + bytes(40), b"P6\n8 8\n255\n" + bytes(192)):
        with pytest.raises(ImageError, match="not a readable image"):
            open_image(data, "upload")
    with open_image(png(), "upload") as img:
        assert img.format == "PNG" and img.size == (32, 32)


def test_cross_site_requests_without_a_key(served):
    base, _, _ = served
    port = base.rsplit(":", 1)[1]
    url = base + "/v1/models/toy/stylize"
    form = {"files": {"image": ("x.png", png(), "image/png")}}
    r = httpx.post(url, headers={"Origin": "http://evil.example"}, timeout=30, **form)
    assert r.status_code == 403 and "evil.example" in r.json()["error"]
    r = httpx.post(url, headers={"Host": f"rebound.example:{port}"}, timeout=30, **form)  # DNS rebinding
    assert r.status_code == 403 and "--allowed-host" in r.json()["error"]
    assert httpx.get(base + "/v1/models", headers={"Origin": "null"}).status_code == 403
    ok = httpx.post(url, headers={"Origin": f"http://127.0.0.1:{port}"}, timeout=30, **form)  # the page at /
    assert ok.status_code == 200 and ok.headers["x-request-id"]
    assert httpx.post(url, headers={"Host": f"localhost:{port}"}, timeout=30, **form).status_code == 200
    assert httpx.get(base + "/healthz", headers={"Host": "anything.example"}).status_code == 200


def test_allowed_host_and_origin_and_key_mode(tmp_path):
    from styleforge.runtime.serve.access import browser_refusal

    rule = dict(port=8000, allowed_hosts=("sf.example.org",), allowed_origins=("https://app.example.org",))
    assert browser_refusal({"host": "sf.example.org", "origin": "https://app.example.org"}, **rule) is None
    assert browser_refusal({"host": "sf.example.org", "origin": "https://sf.example.org"}, **rule) is None
    assert "cross-origin" in browser_refusal({"host": "sf.example.org", "origin": "https://evil.org"}, **rule)
    assert "not this server" in browser_refusal({"host": "127.0.0.1:9999"}, **rule)
    assert browser_refusal({"host": "[::1]:8000"}, **rule) is None
    key = "k-" + os.urandom(8).hex()
    (tmp_path / "key").write_text(key)
    with running_server(write_stylizer(tmp_path / "toy.sfbundle"), "--api-key-file", tmp_path / "key",
                        log=tmp_path / "key.log", api_key=key) as (base, _):
        url = base + "/v1/models/toy/stylize"
        evil = {"Origin": "http://evil.example"}
        assert httpx.post(url, content=png(), headers={**PNG, **evil}).status_code == 401
        auth = {"Authorization": f"Bearer {key}"}
        assert httpx.post(url, content=png(), headers={**PNG, **evil, **auth}, timeout=30).status_code == 200


def test_slow_headers_are_closed_while_healthz_answers(served):
    base, _, _ = served
    host, port = "127.0.0.1", int(base.rsplit(":", 1)[1])
    socks = []
    for _ in range(20):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"POST /v1/models/toy/stylize HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never finished
        socks.append(s)
    try:
        assert httpx.get(base + "/healthz", timeout=5).status_code == 200
        time.sleep(2.0)  # --header-timeout 1
        closed = 0
        for s in socks:
            s.settimeout(3)
            try:
                closed += s.recv(100) == b""
            except (ConnectionResetError, TimeoutError, socket.timeout):
                closed += 0
        assert closed == len(socks)
        assert httpx.get(base + "/healthz", timeout=5).status_code == 200
    finally:
        for s in socks:
            s.close()


def test_a_body_that_does_not_arrive_in_time_is_408(served):
    base, _, _ = served
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST /v1/models/toy/stylize HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
                  "Content-Length: 5000\r\n\r\n".encode() + png()[:100])  # then nothing: --body-timeout 1
        answer = b""
        for _ in range(20):  # the head and the body may come in separate segments
            answer += s.recv(4096)
            if answer.endswith(b"}"):
                break
    assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 1 s" in answer


def test_client_leaving_mid_upload_is_one_log_line(served):
    base, proc, log = served
    port = int(base.rsplit(":", 1)[1])
    before = log.read_text()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(f"POST /v1/models/toy/stylize HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
              "Content-Length: 200000\r\n\r\n".encode() + png()[:500])
    time.sleep(0.3)
    s.close()
    new = ""
    for _ in range(50):  # bounded wait for the server to notice
        new = log.read_text()[len(before):]
        if "went away" in new:
            break
        time.sleep(0.1)
    assert new.count("went away") == 1 and "Traceback" not in new
    assert proc.poll() is None


def test_runner_fault_is_a_500_with_a_request_id_counted_in_metrics(served):
    base, _, log = served
    ok = httpx.post(base + "/v1/models/square/translate", content=png(16, 16), headers=PNG, timeout=30)
    assert ok.status_code == 200
    r = httpx.post(base + "/v1/models/square/translate", content=png(16, 24), headers=PNG, timeout=30)
    assert r.status_code == 500, r.text
    body = r.json()
    assert body["request_id"] == r.headers["x-request-id"] and body["request_id"] in body["error"]
    assert "onnx" not in body["error"].lower() and "node" not in body["error"].lower()
    assert body["request_id"] in log.read_text()  # the detail is in the log, under the same id
    m = httpx.get(base + "/metrics").text
    assert 'styleforge_faults_total{kind="runner",model="square"} 1' in m
    assert 'styleforge_requests_total{code="500",model="square"} 1' in m


# --- the batcher's rules, on a fake runner ---------------------------------------------------------------------------
def _batcher(run, **cfg):
    from styleforge.runtime.serve.batcher import DynamicBatcher
    from styleforge.runtime.serve.config import ServeConfig
    from styleforge.runtime.serve.metrics import Metrics

    return DynamicBatcher("fake", run, ThreadPoolExecutor(1), ServeConfig(**cfg), Metrics())


def test_one_bad_request_never_fails_its_batch():
    runs = []

    def run(key, payloads):
        runs.append(list(payloads))
        if "bad" in payloads:
            raise ValueError("bad input")
        return [p.upper() for p in payloads]

    async def main():
        b = _batcher(run, max_delay_ms=200)
        jobs = [asyncio.ensure_future(b.submit("k", p)) for p in ("a", "bad", "c")]
        out = await asyncio.gather(*jobs, return_exceptions=True)
        await b.close()
        return out

    out = asyncio.run(main())
    assert out[0] == ("A", 3) and out[2] == ("C", 3) and isinstance(out[1], ValueError)
    assert runs[0] == ["a", "bad", "c"] and sorted(map(tuple, runs[1:])) == [("a",), ("bad",), ("c",)]


def test_batches_are_bounded_by_pixels():
    sizes = []

    def run(key, payloads):
        sizes.append(len(payloads))
        return payloads

    async def main():
        b = _batcher(run, max_delay_ms=200, max_run_pixels=250)
        await asyncio.gather(*(b.submit("k", i, pixels=100) for i in range(5)))
        await b.close()

    asyncio.run(main())
    assert sizes == [2, 2, 1]


def test_deadline_and_gone_clients_are_dropped():
    from styleforge.runtime.serve.config import ApiError

    seen = []

    def run(key, payloads):
        seen.extend(payloads)
        time.sleep(0.5)
        return payloads

    async def main():
        b = _batcher(run, max_delay_ms=0, deadline_s=0.2)
        first = asyncio.ensure_future(b.submit("k1", "first"))
        await asyncio.sleep(0.05)  # "first" runs for 0.5 s in the only worker
        late = asyncio.ensure_future(b.submit("k2", "late"))
        gone = asyncio.ensure_future(b.submit("k3", "gone"))
        await asyncio.sleep(0.05)
        gone.cancel()  # its client went away while it waited
        out = await asyncio.gather(first, late, gone, return_exceptions=True)
        await b.close()
        return out, b.waiting

    (first, late, gone), waiting = asyncio.run(main())
    assert first == ("first", 1)
    assert isinstance(late, ApiError) and late.status == 503 and late.headers["Retry-After"]
    assert isinstance(gone, asyncio.CancelledError)
    assert seen == ["first"] and waiting == 0  # neither the late nor the gone request ever ran


def test_admission_counts_requests_still_reading():
    from styleforge.runtime.serve.config import ApiError

    async def main():
        b = _batcher(lambda k, p: p, queue=2)
        with b.admission(), b.admission():
            with pytest.raises(ApiError) as e:
                with b.admission():
                    pass
        assert b.admitted == 0
        await b.close()
        return e.value

    err = asyncio.run(main())
    assert err.status == 503 and "queue full" in err.message


# --- the budget, and the command line ---------------------------------------------------------------------------------
def test_work_is_counted_after_padding_and_tiling():
    from styleforge.runtime.budget import Budget, BudgetError, Geometry, plan_work

    assert plan_work(8, 2_000_000, Geometry(256, 256)).pixels == 256 * 2_000_128
    tiled = plan_work(8, 2_000_000, Geometry(4, 4, margin=64, align=4))
    assert tiled.tiled and tiled.pixels > 16_000_000 and tiled.run_pixels <= 1 << 20  # margins cost more than the strip
    photo = plan_work(1000, 1500, Geometry(4, 4, margin=64, align=4))
    assert not photo.tiled and photo.pixels == 1000 * 1500
    with pytest.raises(BudgetError, match="4,194,304-pixel limit of one run"):
        Budget(16_000_000, 4_194_304).check(plan_work(8, 2_000_000, Geometry(4, 4)), "image")
    Budget(16_000_000, 4_194_304).check(photo, "image")


def test_cli_max_pixels_refuses_before_decoding(tmp_path, capsys):
    from styleforge.runtime.cli import main

    bundle = write_stylizer(tmp_path / "toy.sfbundle")
    (tmp_path / "strip.png").write_bytes(strip_png())
    assert main(["stylize", str(bundle), str(tmp_path / "strip.png"), "--out", str(tmp_path / "o.png"),
                 "--max-pixels", "1000000"]) != 0
    err = capsys.readouterr().err
    assert "1,000,000-pixel limit (--max-pixels)" in err and "Traceback" not in err
    (tmp_path / "x.png").write_bytes(EPS)
    assert main(["stylize", str(bundle), str(tmp_path / "x.png"), "--out", str(tmp_path / "o.png")]) != 0
    assert "EPS" in capsys.readouterr().err and not (tmp_path / "o.png").exists()


def test_sixteen_bit_grey_is_rounded_exactly_without_float64():
    from styleforge.runtime.images import _grey_uint8

    levels = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    got = _grey_uint8(Image.fromarray(levels))
    assert got.dtype == np.uint8 and np.array_equal(got, np.rint(levels / 257.0).astype(np.uint8))


def test_out_of_memory_is_a_503_with_retry_after_and_counted():
    from styleforge.runtime.serve.config import ServeConfig, ServerFault
    from styleforge.runtime.serve.gate import Gate
    from styleforge.runtime.serve.metrics import Metrics

    async def app(scope, receive, send):
        raise ServerFault("toy", RuntimeError("onnxruntime: Failed to allocate memory for requested buffer of size 9e9"))

    sent, metrics = [], Metrics()

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": "/v1/models/toy/stylize", "headers": [(b"host", b"127.0.0.1:8000")]}
    asyncio.run(Gate(app, ServeConfig(port=8000), metrics, ["toy"])(scope, None, send))
    start, body = sent
    headers = dict(start["headers"])
    assert start["status"] == 503 and headers[b"retry-after"] == b"1"
    assert b"out of memory" in body["body"] and headers[b"x-request-id"] in body["body"] and b"allocate" not in body["body"]
    text = metrics.render()
    assert 'styleforge_faults_total{kind="out_of_memory",model="toy"} 1' in text
    assert 'styleforge_requests_total{code="503",model="toy"} 1' in text


def test_a_gone_clients_request_leaves_the_queue_unrun(tmp_path):
    """A waits in a 1.5 s batch window and leaves; B comes later with the same size: B's batch holds B alone."""
    with running_server(write_stylizer(tmp_path / "toy.sfbundle"), "--max-delay-ms", "1500",
                        log=tmp_path / "gone.log") as (base, _):
        port = int(base.rsplit(":", 1)[1])
        body = png(24, 24)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(f"POST /v1/models/toy/stylize HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            time.sleep(0.3)  # A is queued, waiting for company
        r = httpx.post(base + "/v1/models/toy/stylize", content=png(24, 24, seed=1), headers=PNG, timeout=30)
        assert r.status_code == 200 and r.headers["x-batch-size"] == "1"
        m = httpx.get(base + "/metrics").text
        assert 'styleforge_batch_size_count{model="toy"} 1' in m  # A never ran: warm-up runs are not counted
        assert 'styleforge_requests_total{code="499",model="toy"} 1' in m
