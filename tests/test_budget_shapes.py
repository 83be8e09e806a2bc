"""The work budget (runtime/budget.py) on imported graphs of unusual shape (issue 22): a fixed-size graph counts the
windows runtime/fixed_size.py really runs (rows of windows, a fixed batch filled by repeats), a scale-changing graph
counts its K²-larger output, and the server plans them so: a large image on a fixed-size graph is not refused for
a graph run it never makes, a ×2 upsampler's output is counted. An arbitrary-style bundle's style image counts the
predictor's input it is resized to (a large style is admitted, a tiny one is not under-counted), its content counts
its own style-vector pass when alpha < 1, and the decoded style upload stays within the budget."""
from __future__ import annotations

import io
import types

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("fastapi")

import foreign_graphs as fg  # noqa: E402
from PIL import Image  # noqa: E402

from styleforge.runtime.budget import Budget, BudgetError, Geometry, plan_work  # noqa: E402


def _counted_run(h, w, size, scale, batch):
    """Run runtime/fixed_size.run_tiles on an h×w image with a fake graph; return (pixels, largest run), in output
    pixels, of the graph runs it made."""
    from styleforge.runtime.fixed_size import run_tiles

    runs = []

    def run(x):
        runs.append(x.shape[0] * x.shape[1] * x.shape[2] * scale * scale)
        return np.repeat(np.repeat(x.astype(np.float32), scale, axis=1), scale, axis=2)

    run_tiles(run, np.zeros((h, w, 3), np.uint8), size, scale=scale, batch=batch)
    return sum(runs), max(runs)


@pytest.mark.parametrize("h, w, size, scale, batch", [(70, 130, (32, 48), 1, None), (70, 130, (32, 48), 1, 2),
                                                      (20, 30, (32, 48), 1, None), (50, 61, (24, 32), 2, 3)])
def test_fixed_size_work_is_what_the_windows_run(h, w, size, scale, batch):
    work = plan_work(h, w, Geometry(fixed=size, scale=scale, batch=batch))
    assert (work.pixels, work.run_pixels) == _counted_run(h, w, size, scale, batch)
    assert work.windows >= 1


def test_resize_fit_is_one_run_and_scale_counts_the_output():
    one = plan_work(3000, 4000, Geometry(fixed=(32, 48), batch=2), fit="resize")
    assert one.pixels == one.run_pixels == 2 * 32 * 48
    up = plan_work(100, 200, Geometry(4, 4, scale=4))
    assert up.pixels == up.run_pixels == 100 * 200 * 16 and "output ×4 per side" in up.how()


def _png(h, w) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h)).save(buf, format="PNG")
    return buf.getvalue()


def _served(path, name):
    """The server's view of a bundle, as check_work reads it."""
    from styleforge.runtime import load
    from styleforge.runtime.interfaces import interface_spec

    model = load(path, backend="ort-cpu", threads=1)
    return types.SimpleNamespace(model=model, spec=interface_spec(model.interface), name=name)


def test_server_plans_fixed_size_windows_and_scaled_output(tmp_path):
    from styleforge.export.onnx_import.api import import_onnx
    from styleforge.runtime.serve.config import ApiError, ServeConfig
    from styleforge.runtime.serve.handling import check_work

    (tmp_path / "fx.onnx").write_bytes(fg.fixed_nhwc_stylizer())
    (tmp_path / "up.onnx").write_bytes(fg.upsampler_x2())
    fixed, _ = import_onnx(tmp_path / "fx.onnx", tmp_path / "fx.sfbundle", interface="stylizer", value_range="0,1",
                           output_name="y")
    up, _ = import_onnx(tmp_path / "up.onnx", tmp_path / "up.sfbundle", interface="translator", value_range="0,1")
    cfg = ServeConfig()
    fx = _served(fixed, "fx")
    assert Geometry.of(fx.model.manifest, "stylize") == Geometry(fixed=(32, 48), batch=1)
    # 2400×2400 = 5.8 Mpx: over the 4 Mpx of one run as a whole image, but it runs one 32×48 window at a time
    pixels = check_work(fx, cfg, {"image": _png(2400, 2400)}, {})
    assert pixels == 32 * 48 and 2400 * 2400 > cfg.max_run_pixels
    with pytest.raises(ApiError) as e:  # many windows: the time budget still holds
        check_work(fx, cfg, {"image": _png(6000, 6000)}, {})
    assert e.value.status == 413 and "fixed-size windows" in e.value.message
    # a ×2 upsampler: 1200×1200 in is 5.8 Mpx out, over the one-run limit; 800×800 in is 2.6 Mpx out
    ups = _served(up, "up")
    assert check_work(ups, cfg, {"image": _png(800, 800)}, {}) == 800 * 800 * 4
    with pytest.raises(ApiError) as e:
        check_work(ups, cfg, {"image": _png(1200, 1200)}, {})
    assert e.value.status == 413 and "output ×2 per side" in e.value.message
    with pytest.raises(BudgetError):
        Budget().check(plan_work(1200, 1200, Geometry.of(ups.model.manifest, "translate")), "image")


def _arbitrary(tmp_path):
    """A two-graph arbitrary-style bundle (import-onnx --style-encoder) whose predictor runs at 32×32."""
    from styleforge.export.onnx_import.api import import_onnx

    (tmp_path / "t.onnx").write_bytes(fg.style_transformer())
    (tmp_path / "p.onnx").write_bytes(fg.style_predictor())
    path, _ = import_onnx(tmp_path / "t.onnx", tmp_path / "m.sfbundle", style_encoder=tmp_path / "p.onnx",
                          style_input="style_bottleneck", style_size=32, value_range="0,1")
    return path


def test_resized_work_and_an_extra_run_are_counted():
    from styleforge.runtime.budget import plan_resized

    style = plan_resized(3000, 4000, (32, 32), "predict_style")
    assert (style.pixels, style.run_pixels, style.decoded) == (1024, 1024, 12_000_000)
    assert style.how() == "resized to 32x32 for graph 'predict_style'"
    Budget(12_000_000, 1024).check(style, "style")
    with pytest.raises(BudgetError, match="12,000,000 pixels to decode before it is resized to 32x32"):
        Budget(11_999_999, 1024).check(style, "style")
    both = plan_work(40, 48, Geometry()).plus(1024, "its own style vector")
    assert (both.pixels, both.run_pixels) == (40 * 48 + 1024, 40 * 48) and both.how().endswith(", its own style vector")


def test_server_counts_the_style_image_at_the_predictors_size(tmp_path):
    from styleforge.runtime.serve.config import ApiError, ServeConfig
    from styleforge.runtime.serve.handling import check_work

    m = _served(_arbitrary(tmp_path), "m")
    content = plan_work(24, 40, Geometry.of(m.model.manifest, ""))
    # a 300×400 style: 120,000 pixels as uploaded, over a 4,096-pixel run; the predictor runs it at 32×32
    cfg = ServeConfig(max_run_pixels=64 * 64)
    with pytest.raises(BudgetError, match="in one graph run"):  # what counting it as the content's graph would say
        cfg.budget("m").check(plan_work(300, 400, Geometry.of(m.model.manifest, "")), "style")
    parts = {"image": _png(24, 40), "style": _png(300, 400)}
    assert check_work(m, cfg, parts, {"alpha": None}) == content.run_pixels + 32 * 32

    def refusal(cfg, parts, alpha=None):
        with pytest.raises(ApiError) as e:
            check_work(m, cfg, parts, {"alpha": alpha})
        assert e.value.status == 413 and "\n" not in e.value.message
        return e.value.message

    # real work over the budget is still refused: a tiny style still costs the predictor's 32×32 ...
    tiny = {"image": _png(8, 8), "style": _png(16, 16)}
    assert "style: 16x16 is 1,024 pixels of work (resized to 32x32 for graph 'predict_style')" in refusal(
        ServeConfig(max_pixels=1000), tiny)
    # ... the content's own style vector (alpha < 1) is a second predictor run ...
    assert check_work(m, ServeConfig(max_pixels=1200), {"image": _png(24, 24)}, {"alpha": None}) == 576
    check_work(m, ServeConfig(max_pixels=1200), {"image": _png(24, 24)}, {"alpha": 1.0})
    assert "image: 24x24 is 1,600 pixels of work" in refusal(ServeConfig(max_pixels=1200), {"image": _png(24, 24)}, 0.5)
    # ... and a style upload larger than the budget is not decoded
    assert "120,000 pixels to decode" in refusal(ServeConfig(max_pixels=100_000), parts)


def test_a_large_style_upload_is_served(tmp_path):
    """End to end: a style image over the one-run limit as uploaded is admitted and stylizes as the model does."""
    from fastapi.testclient import TestClient

    from styleforge.runtime import load
    from styleforge.runtime.serve.app import create_app
    from styleforge.runtime.serve.config import ServeConfig

    src = _arbitrary(tmp_path)
    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    style = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)  # 10,800 pixels, over the 4,096 of one run

    def png(a):
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "PNG")
        return buf.getvalue()

    cfg = ServeConfig(backend="ort-cpu", warmup_size=16, allowed_hosts=("testserver",), max_run_pixels=64 * 64,
                      max_pixels=12_000)
    files = {"image": ("c.png", png(content), "image/png"), "style": ("s.png", png(style), "image/png")}
    with TestClient(create_app({"m": str(src)}, cfg)) as c:
        r = c.post("/v1/models/m/stylize", files=files)
        assert r.status_code == 200, r.text
        want = load(src, backend="ort-cpu")(content, style=style)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.content))), want)
        big = {**files, "style": ("s.png", png(np.zeros((100, 130, 3), np.uint8)), "image/png")}  # 13,000 to decode
        r = c.post("/v1/models/m/stylize", files=big)
        assert r.status_code == 413 and "13,000 pixels to decode" in r.json()["error"], r.text
