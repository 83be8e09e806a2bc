"""The work budget (runtime/budget.py) on imported graphs of unusual shape (issue 22): a fixed-size graph counts the
windows runtime/fixed_size.py really runs (rows of windows, a fixed batch filled by repeats), a scale-changing graph
counts its K²-larger output, and the server plans them so: a large image on a fixed-size graph is not refused for
a graph run it never makes, a ×2 upsampler's output is counted."""
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
