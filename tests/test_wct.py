"""WCT / PhotoWCT / AdaIN: transforms, export, runtime, CLI (tiny decoders, 32–64 px)."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from styleforge.train.wct.transforms import (covariance, masked_whiten_color, ns_sqrt_invsqrt,  # noqa: E402
                                             whiten_color)


def _spd(c: int, kappa: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(c, c, generator=g, dtype=torch.float64))
    ev = torch.logspace(0, -np.log10(kappa), c, dtype=torch.float64)
    return ((q * ev) @ q.T * 3.7).float()


@pytest.mark.parametrize("c,kappa", [(64, 1e1), (64, 1e3), (64, 1e5), (256, 1e3), (256, 1e5)])
def test_ns_whitening_residual(c, kappa):
    sigma = _spd(c, kappa, seed=c)
    y, z = ns_sqrt_invsqrt(sigma)  # default iteration count, fp32, no ridge
    eye = torch.eye(c)
    white = (z @ sigma @ z.T - eye).norm() / c ** 0.5
    sq = (y @ y - sigma).norm() / sigma.norm()
    # measured ≤ 7.1e-4 (κ=1e5, C=256): the fp32 floor κ·ε_fp32 ≈ 6e-3 bounds it from above
    assert white < 5e-3, white
    assert sq < 1e-4, sq


def _features(c, n, seed):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(c, c, generator=g) * torch.logspace(0, -1, c)
    # ×10: eigenvalues ~0.1…1e3, well above the 1e-3 absolute floor of the ridge (as real relu features)
    return 10 * (mix @ torch.randn(c, n, generator=g) + torch.randn(c, 1, generator=g))


@pytest.mark.parametrize("mode", ["exact", "ns"])
def test_colouring_reproduces_style_covariance(mode):
    fc, fs = _features(32, 900, 1), _features(32, 700, 2)
    out = whiten_color(fc, fs, mode=mode, alpha=1.0)
    mo, co = covariance(out)
    ms, cs = covariance(fs)
    assert torch.isfinite(out).all()
    # the ridge (1e-5 × mean eigenvalue + 1e-3) leaves the whitened content slightly under unit
    # variance along its weakest directions (κ ≈ 4e3 here): measured 4.0e-3 in both modes, 5e-4 without it
    assert (co - cs).norm() / cs.norm() < 1e-2
    assert (mo - ms).abs().max() < 1e-3 * ms.abs().max()
    # alpha = 0 returns the content, alpha blends linearly
    assert torch.allclose(whiten_color(fc, fs, mode=mode, alpha=0.0), fc)
    half = whiten_color(fc, fs, mode=mode, alpha=0.5)
    assert torch.allclose(half, 0.5 * out + 0.5 * fc, atol=1e-3)


def _spectrum_features(c, n, lo, hi, seed):
    """C×N float64 features whose sample covariance has exactly the eigenvalues logspace(lo, hi), plus a mean."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(c, c, generator=g, dtype=torch.float64))
    lam = torch.logspace(np.log10(lo), np.log10(hi), c, dtype=torch.float64)
    x = torch.randn(c, n, generator=g, dtype=torch.float64)
    x = x - x.mean(1, keepdim=True)
    w, v = torch.linalg.eigh(x @ x.T / (n - 1))
    x = (v * w.rsqrt()) @ v.T @ x                       # exactly white sample
    return q @ (lam.sqrt()[:, None] * x) + torch.randn(c, 1, generator=g, dtype=torch.float64)


def test_wct_is_scale_equivariant_and_agrees_with_textbook_at_every_scale():
    """Issue 14 #8: WCT(a·fc, a·fs) = a·WCT(fc, fs) to 1e-4 in both modes and both settings (the regulariser is
    relative to the spectrum), and with the default setting the transform is within 1e-3 of textbook WCT
    (Li et al.: eigh, no ridge) on full-rank features with eigenvalues in [1e-3, 1] at every scale from 0.01 to
    100. The former absolute floors gave 3-6e-2 at ×1 and 0.3 non-equivariance."""
    from styleforge.train.wct.transforms import (PIPELINE_COLOR_REG, PIPELINE_REG, TEXTBOOK_DROP, textbook_wct,
                                                 whiten_color)

    fc, fs = _spectrum_features(64, 512, 1e-3, 1.0, 1), _spectrum_features(64, 512, 1e-3, 1.0, 2)
    rel = lambda a, b: float((a.double() - b).norm() / b.norm())  # noqa: E731
    settings = {"default": {}, "pipeline": {"reg": PIPELINE_REG, "color_reg": PIPELINE_COLOR_REG}}
    for mode in ("exact", "ns"):
        for name, kw in settings.items():
            base = whiten_color(fc.float(), fs.float(), mode, **kw).double()
            if name == "default":                                       # ×1
                assert rel(base, textbook_wct(fc, fs)) <= 1e-3, (mode, rel(base, textbook_wct(fc, fs)))
            for a in ((0.01, 0.1, 10.0, 100.0) if name == "default" else (0.01, 100.0)):
                out = whiten_color((a * fc).float(), (a * fs).float(), mode, **kw)
                assert torch.isfinite(out).all()
                assert rel(out, a * base) <= 1e-4, (mode, name, a, rel(out, a * base))
                if name == "default":
                    ideal = textbook_wct(a * fc, a * fs, drop=0.0)      # nothing dropped: full rank
                    assert rel(out, ideal) <= 1e-3, (mode, a, rel(out, ideal))
                    if a * a * 1e-3 >= 10 * TEXTBOOK_DROP:               # where the published cut-off drops nothing
                        assert rel(out, textbook_wct(a * fc, a * fs)) <= 1e-3, (mode, a)
    # the pipeline setting is a different, documented function: a 1e-2 ridge damps the weakest directions
    piped = whiten_color(fc.float(), fs.float(), "exact", **settings["pipeline"])
    assert 1e-3 < rel(piped, textbook_wct(fc, fs, drop=0.0)) < 1e-1


def test_adain_mode_matches_mean_and_std():
    fc, fs = _features(16, 400, 3), _features(16, 300, 4)
    out = whiten_color(fc, fs, mode="adain")
    assert torch.allclose(out.mean(1), fs.mean(1), atol=1e-4)
    assert torch.allclose(out.std(1), fs.std(1), rtol=1e-3)


def test_public_import_and_bad_mode():
    from styleforge.train import whiten_color as wc

    assert wc is whiten_color
    with pytest.raises(ValueError):
        whiten_color(torch.zeros(3, 4), torch.zeros(3, 4), mode="svd")


@pytest.fixture(scope="module")
def encoder():
    from styleforge.train.wct.models import WCTEncoder

    return WCTEncoder(5, warn=False)


def _img(name, size):
    from styleforge.export.wct.exporter import _resize
    from styleforge.train.core.samples import sample_image

    return torch.from_numpy(_resize(sample_image(name), size, size).copy()).permute(2, 0, 1)[None].float() / 255


def test_ns_vs_exact_on_real_features_every_level(encoder):
    """Relative error of NS (20 iterations, fp32) vs exact (eigh, fp64) WCT on the random(seed=0)
    VGG19 features of the bundled images. Bound 3e-3: NS converges to the fp32 floor (~1e-5)
    wherever the spectrum is resolved; what remains is the policy's soft-vs-hard treatment of weak
    directions (exact drops λ < 1e-5, NS colours with Σs(Σs + 1e-4)^{-1/2}): measured ≤ 9e-4 at
    every level of 64² and 128² images (rank-deficient relu4_1/relu5_1 included), so 3e-3 is
    3× margin; it is 0.3 % of the feature norm, far below what a decoder turns into a visible change."""
    with torch.no_grad():
        fc = encoder.taps(_img("astronaut", 64))
        fs = encoder.taps(_img("mosaic", 64))
        for level in range(1, 6):
            c, s = fc[level][0].flatten(1), fs[level][0].flatten(1)
            ex = whiten_color(c, s, mode="exact")
            ns = whiten_color(c, s, mode="ns")
            rel = float((ns - ex).norm() / ex.norm())
            assert np.isfinite(rel) and rel < 3e-3, (level, rel)


def test_mask_with_one_pixel_region_no_nan(encoder):
    cm = torch.zeros(64, 64, dtype=torch.long)
    cm[10, 10] = 1                                    # a 1-pixel region
    cm[32:, :] = 2
    sm = torch.zeros(64, 64, dtype=torch.long)
    sm[:, 40:] = 2
    sm[0, 0] = 1
    with torch.no_grad():
        fc = encoder(_img("chelsea", 64), 2)[0]
        fs = encoder(_img("waves", 64), 2)[0]
        for mode in ("exact", "ns", "adain"):
            out = masked_whiten_color(fc.flatten(1), fs.flatten(1), cm, sm, (32, 32), (32, 32), mode=mode)
            assert torch.isfinite(out).all(), mode
            assert not torch.equal(out, fc.flatten(1))          # large regions were transferred
    # the tiny region kept its content features
    idx = 5 * 32 + 5
    assert torch.equal(out[:, idx], fc.flatten(1)[:, idx])


def test_photowct_unpool_matches_max_unpool():
    import torch.nn.functional as F

    from styleforge.train.wct.models import pool_switches, unpool

    x = torch.randn(2, 5, 8, 12)
    v, idx = F.max_pool2d(x, 2, return_indices=True)
    assert torch.equal(unpool(v, pool_switches(x)), F.max_unpool2d(v, idx, 2))


def test_guided_filter_and_exact_smoothing():
    from styleforge.runtime.guided_filter import smooth_fast
    from styleforge.train.wct.matting_smooth import smooth_exact

    rng = np.random.default_rng(0)
    content = np.zeros((24, 24, 3), np.uint8)
    content[:, 12:] = 200                               # an edge the smoothing must keep
    stylized = np.clip(content.astype(int) + rng.integers(-40, 40, content.shape), 0, 255).astype(np.uint8)
    for out in (smooth_fast(stylized, content), smooth_exact(stylized, content)):
        assert out.shape == content.shape and out.dtype == np.uint8
        # noise is removed inside the flat regions, the edge stays
        assert out[:, :10].std() < stylized[:, :10].std() / 2
        assert out[:, 14:].mean() - out[:, :10].mean() > 120
    from styleforge.runtime.errors import StyleForgeError

    with pytest.raises(StyleForgeError):
        smooth_exact(stylized, content, max_pixels=100)


# --- end to end: CLI train → export → validate → stylize → texture; ONNX parity ---------------

@pytest.fixture(scope="module")
def wct_bundle(tmp_path_factory):
    from helpers import run_cli

    d = tmp_path_factory.mktemp("wct")
    for level in (1, 2):
        run_cli("train", "wct-decoder", "--level", level, "--out", d / "wct", "--steps", 2, "--size", 32,
                "--batch-size", 1, "--width-mult", 0.125, "--no-progress", check=True)
    p = run_cli("export", d / "wct", "--out", d / "w.sfbundle", "--golden-sizes", "32x32,16x48", check=True)
    assert "PASS" in p.stdout
    return d


def test_cli_wct_end_to_end(wct_bundle, cli):
    d = wct_bundle
    manifest = json.loads((d / "w.sfbundle" / "manifest.json").read_text())
    assert manifest["model"]["interface"] == "wct" and manifest["model"]["method"] == "wct"
    assert manifest["model"]["config"]["levels"] == [1, 2] and manifest["loss_network"] == "random(seed=0)"
    assert {g["role"] for g in manifest["graphs"]} == {"encode_style", "stylize", "stylize_pair"}
    p = cli("validate", d / "w.sfbundle", "--json", check=True)
    report = json.loads(p.stdout)
    assert report["passed"] and any(c["case"].startswith("ns_vs_exact") for c in report["cases"])
    p = cli("stylize", d / "w.sfbundle", _write_png(d), "--style", "sample:mosaic",
            "--alpha", "0.7", "--out", d / "s.png", check=True)
    from styleforge.runtime.images import load_image

    assert load_image(d / "s.png").shape == (30, 34, 3)
    cli("stylize", d / "w.sfbundle", _write_png(d), "--style", "sample:mosaic", "--photo-smooth", "fast",
        "--out", d / "sf.png", check=True)
    cli("texture", d / "w.sfbundle", "--style", "sample:waves", "--size", "40x24", "--passes", "2",
        "--out", d / "t.png", check=True)
    assert load_image(d / "t.png").shape == (40, 24, 3)
    p = cli("texture", d / "w.sfbundle", "--style", d / "missing.png", "--out", d / "x.png")
    assert p.returncode == 2 and "missing.png" in p.stderr


def _write_png(d):
    from styleforge.runtime.images import save_image
    from styleforge.train.core.samples import sample_image

    from styleforge.export.wct.exporter import _resize

    return save_image(d / "c.png", _resize(sample_image("astronaut"), 30, 34))


def test_onnx_parity_unseen_sizes_and_style_cache(wct_bundle):
    from styleforge.runtime import load
    from styleforge.runtime.images import pad_to_multiple, to_nchw_float
    from styleforge.train.wct.pipeline import load_pipeline

    model = load(wct_bundle / "w.sfbundle", backend="ort-cpu")
    pipe, _ = load_pipeline(wct_bundle / "wct", mode="ns")
    from styleforge.export.wct.exporter import golden_pair

    for h, w in [(40, 56), (72, 24)]:                   # not golden sizes
        c, s = golden_pair(h, w, (48, 48))
        alpha = np.array([1.0, 0.6], np.float32)
        stats = model.style_stats(s[0].transpose(1, 2, 0).astype(np.uint8))
        got = model.run({"content": c, "alpha": alpha, **stats}, role="stylize")["image"]
        with torch.no_grad():
            ref = pipe(torch.from_numpy(c) / 255, torch.from_numpy(s) / 255, torch.from_numpy(alpha)) * 255
        d = np.abs(got - ref.numpy())
        assert d.mean() < 0.05 and d.max() < 1.0, (h, w, d.mean(), d.max())
    style = np.asarray(golden_pair(48, 48)[1][0].transpose(1, 2, 0), np.uint8)
    content = np.asarray(golden_pair(36, 20)[0][0].transpose(1, 2, 0), np.uint8)
    style[0, 0] = (1, 2, 3)                             # a style this model has not seen yet
    hits = model.cache_hits
    a = model(content, style=style, alpha=0.5)
    b = model(content, style=style.copy(), alpha=0.5)   # same pixels, another array: served from the cache
    assert model.cache_hits == hits + 1 and np.array_equal(a, b) and a.shape == content.shape
    from styleforge.runtime.errors import StyleForgeError

    with pytest.raises(StyleForgeError):
        model(content, style=style, style_index=1)
    with pytest.raises(StyleForgeError):
        model(content)


def test_wct_model_is_safe_to_share_between_threads(wct_bundle):
    """Issue 14 #6: 8 threads, different contents and styles, a style cache smaller than the number of styles (so
    entries are evicted and re-encoded while other threads read them): the outputs equal a sequential run's."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from styleforge.runtime import load

    rng = np.random.default_rng(11)
    styles = [rng.integers(0, 256, (24 + 8 * k, 32, 3), dtype=np.uint8) for k in range(4)]
    jobs = [(rng.integers(0, 256, (20, 28, 3), dtype=np.uint8), k % 4, 0.25 + 0.25 * (k % 3)) for k in range(48)]
    ref_model = load(wct_bundle / "w.sfbundle", backend="ort-cpu", threads=1)
    want = [ref_model(c, style=styles[s], alpha=a) for c, s, a in jobs]
    model = load(wct_bundle / "w.sfbundle", backend="ort-cpu", threads=1)
    model.cache_size = 1
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up if there are any
    try:
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda j: model(j[0], style=styles[j[1]], alpha=j[2]), jobs))
    finally:
        sys.setswitchinterval(before)
    assert all(np.array_equal(g, w) for g, w in zip(got, want))
    assert len(model._cache) == 1
    stats = model.style_stats(styles[0])
    assert not any(v.flags.writeable for v in stats.values())  # cached arrays are shared: read-only


def test_fresh_multilevel_bundle_passes_its_measured_profile(tmp_path):
    """Issue 14 #2: a freshly trained (2-step) multi-level WCT bundle validates under the family's cpu-fp32 profile
    for its deepest level, measured across training stages (not a bound on one pixel of an untrained cascade), and
    its NS-vs-exact cases meet the same limits as ORT vs PyTorch (NS and exact now compute one function)."""
    from styleforge.export.core.api import export_validated
    from styleforge.export.wct.exporter import WCT_PROFILES
    from styleforge.runtime import open_bundle
    from styleforge.runtime.validation import check
    from styleforge.train.wct.trainer import WCTDecoderTrainer

    for level in (1, 2, 3):
        WCTDecoderTrainer(tmp_path / "wct" / f"level{level}", level=level, size=32, batch_size=1, width_mult=0.125,
                          steps=2, progress=False).fit()
    out, report = export_validated(tmp_path / "wct", tmp_path / "w3.sfbundle", golden_sizes="16x48")
    assert report["passed"]
    policy = open_bundle(out).manifest.tolerances
    profile = next(t for upto, t, _ in WCT_PROFILES if upto == 3)
    assert policy.default == profile and "2/50/100-300 steps" in policy.basis
    exact = [c for c in report["cases"] if c["case"].startswith("ns_vs_exact")]
    assert len(exact) == 1 and all(c["reference"] == "pytorch-exact" for c in exact)
    for c in exact:
        (o,) = c["outputs"]
        assert o["tolerance"] == {k: v for k, v in vars(profile).items() if v is not None}  # no looser case limit
        assert check(o, profile) == [] and o["mean_abs"] < 5e-3, (c["case"], o["mean_abs"], o["p99_abs"])


def test_photowct_bundle_exports_and_validates(tmp_path):
    from styleforge.export.core.api import export_checkpoint
    from styleforge.runtime import load
    from styleforge.runtime.validation import validate_bundle
    from styleforge.train.wct.trainer import WCTDecoderTrainer

    WCTDecoderTrainer(tmp_path / "p" / "level2", level=2, size=32, batch_size=1, width_mult=0.125, photo=True,
                      steps=1, progress=False).fit()
    out = export_checkpoint(tmp_path / "p", tmp_path / "p.sfbundle", golden_sizes="32x32")
    assert validate_bundle(out, write_report=False)["passed"]
    model = load(out, backend="ort-cpu")
    assert model.config.photo is True and model.manifest.model.method == "photowct"
    img = np.asarray(golden_pair_uint8(28, 36))
    assert model(img, style=img, photo_smooth="exact").shape == img.shape


def golden_pair_uint8(h, w):
    from styleforge.export.wct.exporter import golden_pair

    return golden_pair(h, w)[0][0].transpose(1, 2, 0).astype(np.uint8)
