"""`styleforge serve`: a real server (subprocess, free loopback port) over toy bundles of every served interface.

Covers every endpoint, every error code (400, 401, 404, 413, 503), batching (two concurrent requests seen in one
batch), metrics, the API key, the loopback rule and the graceful drain on SIGTERM (exit status 0)."""
from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import time

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from PIL import Image  # noqa: E402

from styleforge.runtime.serve.launch import running_server  # noqa: E402
from toy_bundles import write_generator, write_stylizer, write_translator  # noqa: E402

PNG = {"Content-Type": "image/png"}
WINDOW_MS = 400  # --max-delay-ms of the main server: requests sent together land in one batch


def png(h=64, w=64, seed=0, fmt="PNG", flat=False) -> bytes:
    a = np.zeros((h, w, 3), np.uint8) if flat else np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text → {"name{labels}": value}; every line must be a well-formed sample or HELP/TYPE."""
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) \w+ ", line), line
            continue
        m = sample.match(line)
        assert m, f"bad metrics line {line!r}"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


async def _post_all(requests):
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=len(requests) + 2)) as c:
        return await asyncio.gather(*[c.post(url, **kw) for url, kw in requests])


def post_together(requests):
    return asyncio.run(_post_all(requests))


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve")
    return {"toy": write_stylizer(d / "toy.sfbundle"), "cyc": write_translator(d / "cyc.sfbundle"),
            "digits": write_generator(d / "digits.sfbundle"), "dir": d}


@pytest.fixture(scope="module")
def server(bundles):
    with running_server(bundles["toy"], bundles["cyc"], bundles["digits"], "--max-batch", "8", "--max-delay-ms",
                        WINDOW_MS, "--queue", "4", "--max-pixels", "1000000", "--max-body-mb", "2", "--workers", "1",
                        log=bundles["dir"] / "server.log") as (base, proc):
        yield base, proc


def test_health_ready_models_and_page(server):
    base, _ = server
    assert httpx.get(base + "/healthz").json() == {"status": "ok"}
    assert httpx.get(base + "/readyz").json() == {"ready": True, "models": {"toy": True, "cyc": True, "digits": True}}
    models = {m["name"]: m for m in httpx.get(base + "/v1/models").json()["models"]}
    assert set(models) == {"toy", "cyc", "digits"}
    assert {k: (m["family"], m["interface"], m["precision"], m["backend"]) for k, m in models.items()} == {
        "toy": ("stylizer", "stylizer", "fp32", "ort-cpu"), "cyc": ("image2image", "translator", "fp32", "ort-cpu"),
        "digits": ("gan", "generator", "fp32", "ort-cpu")}
    assert models["toy"]["num_styles"] == 2 and models["toy"]["endpoint"] == "/v1/models/toy/stylize"
    page = httpx.get(base + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html") and 'id="photo"' in page.text


def test_stylize_matches_the_runtime_and_formats(server, bundles):
    from styleforge.runtime import load

    base, _ = server
    body = png(70, 90)
    r = httpx.post(base + "/v1/models/toy/stylize?style_index=1", content=body, headers=PNG, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
    ref = load(bundles["toy"], backend="ort-cpu")(decode(body), style_index=1)
    assert np.array_equal(decode(r.content), ref)
    r = httpx.post(base + "/v1/models/toy/stylize?format=jpeg", content=body, headers=PNG, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and decode(r.content).shape == (70, 90, 3)
    r = httpx.post(base + "/v1/models/toy/stylize", files={"image": ("x.png", body, "image/png")}, timeout=60)
    assert r.status_code == 200 and np.array_equal(decode(r.content), load(bundles["toy"], backend="ort-cpu")(decode(body)))


def test_concurrent_requests_share_one_batch(server):
    base, _ = server
    url = base + "/v1/models/toy/stylize"
    body = png(64, 64)
    r0, r1 = post_together([(url + "?style_index=0", {"content": body, "headers": PNG}),
                            (url + "?style_index=1", {"content": body, "headers": PNG})])
    assert (r0.status_code, r1.status_code) == (200, 200)
    assert r0.headers["X-Batch-Size"] == r1.headers["X-Batch-Size"] == "2"
    # each request kept its own style inside the batch (style 1 adds 40 levels before clipping)
    d = decode(r1.content).astype(int) - decode(r0.content).astype(int)
    assert np.median(d) == 40
    # different sizes never share a graph run
    a, b = post_together([(url, {"content": png(64, 64), "headers": PNG}), (url, {"content": png(64, 72), "headers": PNG})])
    assert (a.headers["X-Batch-Size"], b.headers["X-Batch-Size"]) == ("1", "1")


def test_translate_and_generate(server):
    base, _ = server
    body = png(40, 56)
    fwd = httpx.post(base + "/v1/models/cyc/translate", content=body, headers=PNG, timeout=60)
    rev = httpx.post(base + "/v1/models/cyc/translate?reverse=1", content=body, headers=PNG, timeout=60)
    assert fwd.status_code == rev.status_code == 200
    assert np.array_equal(decode(fwd.content), 255 - decode(body))
    assert np.abs(decode(rev.content).astype(int) - np.rint(decode(body) * 0.5)).max() <= 1
    url = base + "/v1/models/digits/generate"
    rs = post_together([(url, {"params": {"seed": s, "label": s % 3}}) for s in range(3)])
    assert [r.status_code for r in rs] == [200] * 3 and {r.headers["X-Batch-Size"] for r in rs} == {"3"}
    again = httpx.post(url, params={"seed": 0, "label": 0}, timeout=60)
    assert np.array_equal(decode(again.content), decode(rs[0].content)) and decode(again.content).shape == (8, 8, 3)


def _bomb() -> bytes:
    """A 20000×20000 greyscale PNG (~0.4 MB on the wire, 1.2 GB as decoded RGB)."""
    buf = io.BytesIO()
    Image.new("L", (20000, 20000)).save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


ERROR_CASES = [  # (what, path, request kwargs, status)
    ("not an image", "toy/stylize", {"content": b"hello world", "headers": PNG}, 400),
    ("truncated png", "toy/stylize", {"content": png()[:300], "headers": PNG}, 400),
    ("truncated jpeg", "toy/stylize", {"content": png(fmt="JPEG")[:400], "headers": {"Content-Type": "image/jpeg"}}, 400),
    ("empty body", "toy/stylize", {"content": b"", "headers": PNG}, 400),
    ("wrong content type", "toy/stylize", {"content": png(), "headers": {"Content-Type": "text/plain"}}, 400),
    ("multipart without image", "toy/stylize", {"files": {"photo": ("x.png", png(), "image/png")}}, 400),
    ("tiny image", "toy/stylize", {"content": png(4, 4), "headers": PNG}, 400),
    ("bad style_index", "toy/stylize?style_index=5", {"content": png(), "headers": PNG}, 400),
    ("non-integer seed", "digits/generate?seed=x", {}, 400),
    ("label out of range", "digits/generate?label=99", {}, 400),
    ("unknown output format", "toy/stylize?format=gif", {"content": png(), "headers": PNG}, 400),
    ("unknown format on translate", "cyc/translate?reverse=1&format=bmp", {"content": png(), "headers": PNG}, 400),
    ("too many pixels", "toy/stylize", {"content": png(1200, 1000, flat=True), "headers": PNG}, 413),
    ("pixel bomb", "toy/stylize", {"content": _bomb(), "headers": PNG}, 413),
    ("body over the limit", "toy/stylize", {"content": os.urandom(3 << 20), "headers": PNG}, 413),
    ("unknown model", "nope/stylize", {"content": png(), "headers": PNG}, 404),
    ("wrong verb for the model", "toy/translate", {"content": png(), "headers": PNG}, 404),
]


def test_every_error_is_json_and_the_server_keeps_serving(server):
    base, proc = server
    before = parse_metrics(httpx.get(base + "/metrics").text)
    with httpx.Client(base_url=base, timeout=60) as c:
        for what, path, kw, status in ERROR_CASES:
            r = c.post("/v1/models/" + path, **kw)
            assert r.status_code == status and list(r.json()) == ["error"] and r.json()["error"], (what, r.status_code, r.text)

        def chunks():  # no Content-Length: the limit is counted while streaming
            for _ in range(30):
                yield os.urandom(100_000)

        assert c.post("/v1/models/toy/stylize", content=chunks(), headers=PNG).status_code == 413
        assert c.get("/nope").json() == {"error": "Not Found"}
        assert c.post("/v1/models/toy/stylize", content=png(), headers=PNG).status_code == 200
    after = parse_metrics(httpx.get(base + "/metrics").text)
    grew = lambda k: after.get(k, 0) - before.get(k, 0)  # noqa: E731
    assert grew('styleforge_requests_total{code="413",model="toy"}') == 4
    assert grew('styleforge_requests_total{code="404",model="unknown"}') == 1
    assert grew('styleforge_requests_total{code="200",model="toy"}') == 1
    assert proc.poll() is None


def test_full_queue_answers_503_with_retry_after(server):
    base, _ = server
    url = base + "/v1/models/toy/stylize"
    rs = post_together([(url, {"content": png(32, 32, seed=i), "headers": PNG}) for i in range(7)])  # --queue 4
    codes = sorted(r.status_code for r in rs)
    assert codes.count(200) >= 4 and 503 in codes and set(codes) == {200, 503}, codes
    for r in rs:
        if r.status_code == 503:
            assert r.headers["Retry-After"] == "1" and "queue full" in r.json()["error"]
    assert httpx.post(url, content=png(), headers=PNG, timeout=60).status_code == 200


def test_metrics_exposition(server):
    base, _ = server
    post_together([(base + "/v1/models/toy/stylize", {"content": png(48, 48), "headers": PNG})] * 2)
    r = httpx.get(base + "/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    m = parse_metrics(r.text)
    assert m['styleforge_queue_depth{model="toy"}'] == 0
    assert m['styleforge_batch_size_bucket{le="2",model="toy"}'] > m['styleforge_batch_size_bucket{le="1",model="toy"}']
    assert m['styleforge_batch_size_count{model="toy"}'] == m['styleforge_batch_size_bucket{le="+Inf",model="toy"}']
    n = m['styleforge_request_seconds_count{model="toy"}']
    assert n >= 2 and m['styleforge_request_seconds_bucket{le="+Inf",model="toy"}'] == n
    assert sum(v for k, v in m.items() if k.startswith('styleforge_requests_total') and 'model="toy"' in k) == n
    assert "# TYPE styleforge_request_seconds histogram" in r.text and "# TYPE styleforge_queue_depth gauge" in r.text


def test_api_key_and_graceful_drain_exit_0(bundles):
    key = "sk-" + os.urandom(12).hex()
    key_file = bundles["dir"] / "key.txt"
    key_file.write_text(key + "\n")
    log = bundles["dir"] / "auth.log"
    auth = {"Authorization": f"Bearer {key}"}
    with running_server(bundles["toy"], "--api-key-file", key_file, "--max-batch", "4", "--max-delay-ms", "300",
                        log=log, api_key=key) as (base, proc):
        assert httpx.get(base + "/healthz").status_code == 200
        for path in ("/readyz", "/v1/models", "/metrics", "/"):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {key}"}):
                r = httpx.get(base + path, headers=headers)
                assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and r.json()["error"], path
            assert httpx.get(base + path, headers=auth).status_code == 200, path
        assert httpx.post(base + "/v1/models/toy/stylize", content=png(), headers=PNG).status_code == 401
        assert httpx.post(base + "/v1/models/toy/stylize", content=png(), headers={**PNG, **auth}, timeout=60).status_code == 200

        async def drain():
            async with httpx.AsyncClient(timeout=60) as c:
                jobs = [asyncio.create_task(c.post(base + "/v1/models/toy/stylize", content=png(32, 32, seed=i),
                                                   headers={**PNG, **auth})) for i in range(6)]
                await asyncio.sleep(0.15)  # they wait in the batcher's 300 ms window
                proc.send_signal(signal.SIGTERM)
                return await asyncio.gather(*jobs, return_exceptions=True)

        rs = asyncio.run(drain())
        assert [getattr(r, "status_code", repr(r)) for r in rs] == [200] * 6
        assert proc.wait(60) == 0
    text = log.read_text()
    assert "shut down cleanly" in text and key not in text


def test_loopback_rule_and_key_sources(bundles, monkeypatch, capsys):
    from styleforge.runtime.cli import main
    from styleforge.runtime.serve.access import resolve_api_key

    monkeypatch.delenv("STYLEFORGE_API_KEY", raising=False)
    assert main(["serve", str(bundles["toy"]), "--host", "0.0.0.0"]) == 2
    assert "refusing to bind 0.0.0.0" in capsys.readouterr().err
    monkeypatch.setenv("STYLEFORGE_API_KEY", "  k1 ")
    assert resolve_api_key(None) == "k1"
    empty = bundles["dir"] / "empty.txt"
    empty.write_text("\n")
    assert main(["serve", str(bundles["toy"]), "--api-key-file", str(empty)]) == 2
    assert "empty" in capsys.readouterr().err
