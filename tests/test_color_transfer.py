"""Reinhard colour transfer and luminance transfer (runtime side: numpy only)."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from styleforge.runtime.color_transfer import (lab_stats, lab_to_rgb, luminance_transfer, luminance_transfer_float,
                                               reinhard_transfer, reinhard_transfer_float, rgb_to_lab, rgb_to_yiq)
from styleforge.runtime.errors import ImageError


def _sample(name, side=96):
    from styleforge.train.core.samples import resolve_image

    return resolve_image(f"sample:{name}", max_side=side)


def test_lab_known_values_and_exact_round_trip():
    assert np.allclose(rgb_to_lab(np.array([1.0, 1.0, 1.0])), [100, 0, 0], atol=1e-4)
    assert np.allclose(rgb_to_lab(np.array([1.0, 0.0, 0.0])), [53.2408, 80.0925, 67.2032], atol=1e-3)
    assert np.allclose(rgb_to_lab(np.array([0.0, 0.0, 0.0])), [0, 0, 0], atol=1e-9)
    x = np.random.default_rng(0).uniform(-0.3, 1.3, (500, 3))  # out-of-gamut values too
    assert np.abs(lab_to_rgb(rgb_to_lab(x)) - x).max() < 1e-9


@pytest.mark.parametrize("content,style", [("coffee", "chelsea"), ("astronaut", "waves"), ("rocket", "mosaic")])
def test_float_transfer_matches_style_lab_mean_and_std_to_1e3(content, style):
    c, s = _sample(content) / 255.0, _sample(style, 64) / 255.0  # different sizes on purpose
    out = reinhard_transfer_float(c, s)
    assert out.shape == c.shape
    ms, ss = lab_stats(s)
    mo, so = lab_stats(out)
    assert np.abs(mo - ms).max() < 1e-3
    assert np.abs(so - ss).max() < 1e-3
    assert not np.allclose(lab_stats(c)[0], ms, atol=1.0)  # the content really did start elsewhere


def test_uint8_transfer_bound():
    """Rounding/clipping to uint8 moves each pixel's Lab value by some Δ; then |Δmean| ≤ mean|Δ| and
    |Δstd| ≤ rms(Δ) (triangle inequality for the L2 norm of centred values). Those bounds must hold for
    any pair; and for an in-gamut pair (no clipping) rounding alone keeps the stats within 0.05 Lab units
    (a just-noticeable difference is ~2.3)."""
    for content, style, in_gamut in [("coffee", "chelsea", True), ("astronaut", "waves", False)]:
        c, s = _sample(content), _sample(style, 64)
        f = reinhard_transfer_float(c / 255.0, s / 255.0)
        u = reinhard_transfer(c, s)
        assert u.dtype == np.uint8 and u.shape == c.shape
        assert np.array_equal(u, np.clip(np.rint(f * 255), 0, 255).astype(np.uint8))
        clipped = ((f < 0) | (f > 1)).any(-1).mean()
        assert (clipped == 0) == in_gamut
        delta = (rgb_to_lab(u / 255.0) - rgb_to_lab(f)).reshape(-1, 3)
        ms, ss = lab_stats(s / 255.0)
        mu, su = lab_stats(u / 255.0)
        assert np.all(np.abs(mu - ms) <= np.abs(delta).mean(0) + 1e-6)
        assert np.all(np.abs(su - ss) <= np.sqrt((delta ** 2).mean(0)) + 1e-6)
        if in_gamut:
            assert np.sqrt((delta ** 2).mean(0)).max() < 0.5
            assert np.abs(mu - ms).max() < 0.05 and np.abs(su - ss).max() < 0.05


def test_constant_content_channel_does_not_divide_by_zero():
    c = np.full((16, 16, 3), 0.5)
    s = _sample("chelsea", 32) / 255.0
    out = reinhard_transfer_float(c, s)
    assert np.isfinite(out).all()
    assert np.allclose(lab_stats(out)[0], lab_stats(s)[0], atol=1e-6)


def test_luminance_transfer_keeps_colours_takes_luminance():
    o, st = _sample("chelsea", 64) / 255.0, _sample("coffee", 64)[:42, :64] / 255.0
    o = o[:42, :64]
    out = luminance_transfer_float(o, st)
    yo, ys, yq = rgb_to_yiq(o), rgb_to_yiq(st), rgb_to_yiq(out)
    assert np.abs(yq[..., 0] - ys[..., 0]).max() < 1e-9
    assert np.abs(yq[..., 1:] - yo[..., 1:]).max() < 1e-9
    u = luminance_transfer((o * 255).round().astype(np.uint8), (st * 255).round().astype(np.uint8))
    assert u.dtype == np.uint8 and u.shape == o.shape
    # uint8 rounding (≤ 0.5/255 per channel) and clipping; the mean luminance follows the stylized image
    assert abs(rgb_to_yiq(u / 255.0)[..., 0].mean() - ys[..., 0].mean()) < 0.02


def test_bad_inputs_raise_image_error():
    good = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ImageError, match="H×W×3"):
        reinhard_transfer(np.zeros((8, 8), np.uint8), good)
    with pytest.raises(ImageError, match="uint8"):
        reinhard_transfer(good.astype(np.float32), good)
    with pytest.raises(ImageError, match="one size"):
        luminance_transfer_float(np.zeros((8, 8, 3)), np.zeros((4, 8, 3)))


def test_cli_color_transfer_without_torch(tmp_path):
    c, s = tmp_path / "c.png", tmp_path / "s.png"
    Image.fromarray(_sample("coffee", 48)).save(c)
    Image.fromarray(_sample("chelsea", 48)).save(s)
    out = tmp_path / "o.png"
    code = ("import sys; sys.modules['torch'] = None\n"
            "from styleforge.runtime.cli import main\n"
            f"rc = main(['color-transfer', {str(c)!r}, '--style', {str(s)!r}, '--out', {str(out)!r}])\n"
            "assert 'torch' not in [k for k, v in sys.modules.items() if v is not None]\n"
            "sys.exit(rc)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout.strip().splitlines()[-1])
    assert np.allclose(info["out_lab_mean"], info["style_lab_mean"], atol=0.1)
    got = np.asarray(Image.open(out))
    assert np.array_equal(got, reinhard_transfer(np.asarray(Image.open(c)), np.asarray(Image.open(s))))


def test_cli_color_transfer_errors(tmp_path, capsys):
    from styleforge.runtime.cli import main

    assert main(["color-transfer", str(tmp_path / "missing.png"), "--style", str(tmp_path / "x.png"),
                 "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.png: no such file" in err[0]
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "a.png")
    assert main(["color-transfer", str(tmp_path / "a.png"), "--style", str(tmp_path / "a.png"),
                 "--out", str(tmp_path / "o.txt")]) == 2
    assert "unsupported output format" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
