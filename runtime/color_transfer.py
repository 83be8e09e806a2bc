"""Colour transfer without a network: Reinhard et al. 2001 in CIELAB, and luminance-only transfer (numpy only).

Two transforms, each with a float API (exact maths, no rounding, no clipping) and a uint8 API
(what images and the CLI use):

- :func:`reinhard_transfer` / :func:`reinhard_transfer_float`: give the content image the
  colour statistics of the style image — each CIELAB channel of the content is shifted and
  scaled so that its mean and standard deviation equal the style image's (Reinhard, Ashikhmin,
  Gooch & Shirley 2001, here in CIELAB/D65 rather than the paper's lαβ space).
  The float API returns RGB in [0, 1] *unclipped*: its Lab means and stds equal the style's to
  floating-point precision. The uint8 API rounds and clips to [0, 255]; rounding moves each
  pixel's Lab value by a fraction of a unit and clipping (colours outside sRGB) can move it more,
  so the uint8 statistics match only approximately (``docs/optimize.md`` gives the bound).
- :func:`luminance_transfer` / :func:`luminance_transfer_float`: keep the original image's
  colours and take the stylized image's luminance (YIQ: Y from the stylized image, I and Q from
  the original) — Gatys et al. 2017's "luminance-only transfer", applied after the fact.

RGB↔Lab is implemented here (sRGB companding, D65 white point, CIE 1976 L*a*b*); both
directions are extended to all real numbers (linear branch for negative values) so that the
float round trip is exact even for out-of-gamut colours.
"""
from __future__ import annotations

import numpy as np

from .errors import ImageError

# sRGB (D65) linear RGB → XYZ, and its inverse.
_RGB2XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                     [0.2126729, 0.7151522, 0.0721750],
                     [0.0193339, 0.1191920, 0.9503041]])
_XYZ2RGB = np.linalg.inv(_RGB2XYZ)
_WHITE = np.array([0.95047, 1.0, 1.08883])  # D65 reference white (Y = 1)
_DELTA = 6.0 / 29.0

# YIQ (NTSC 1953) and its inverse.
_RGB2YIQ = np.array([[0.299, 0.587, 0.114],
                     [0.595716, -0.274453, -0.321263],
                     [0.211456, -0.522591, 0.311135]])
_YIQ2RGB = np.linalg.inv(_RGB2YIQ)

#: Below this standard deviation a content channel is treated as constant (it cannot be scaled).
EPS_STD = 1e-8


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    a = np.abs(c)
    lin = np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)
    return np.sign(c) * lin


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    a = np.abs(c)
    s = np.where(a <= 0.0031308, a * 12.92, 1.055 * np.power(a, 1.0 / 2.4) - 0.055)
    return np.sign(c) * s


def _f(t: np.ndarray) -> np.ndarray:
    return np.where(t > _DELTA ** 3, np.cbrt(t), t / (3 * _DELTA ** 2) + 4.0 / 29.0)


def _f_inv(u: np.ndarray) -> np.ndarray:
    return np.where(u > _DELTA, u ** 3, 3 * _DELTA ** 2 * (u - 4.0 / 29.0))


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (float, H×W×3 or N×3; any real values accepted) → CIELAB (L in [0, 100]), float64."""
    rgb = np.asarray(rgb, dtype=np.float64)
    xyz = _srgb_to_linear(rgb) @ _RGB2XYZ.T / _WHITE
    fx, fy, fz = (_f(xyz[..., i]) for i in range(3))
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB → sRGB in [0, 1], float64, *not clipped* (out-of-gamut colours fall outside [0, 1])."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    xyz = np.stack([_f_inv(fx), _f_inv(fy), _f_inv(fz)], axis=-1) * _WHITE
    return _linear_to_srgb(xyz @ _XYZ2RGB.T)


def _check(name: str, img: np.ndarray, dtype_kind: str) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ImageError(f"{name}: expected an H×W×3 RGB image, got shape {a.shape}")
    if a.shape[0] * a.shape[1] == 0:
        raise ImageError(f"{name}: image is empty")
    if dtype_kind == "u8" and a.dtype != np.uint8:
        raise ImageError(f"{name}: expected uint8 pixels, got {a.dtype}")
    if dtype_kind == "f" and not np.issubdtype(a.dtype, np.floating):
        raise ImageError(f"{name}: expected float pixels in [0, 1], got {a.dtype}")
    return a


def lab_stats(rgb01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) std of an RGB image's CIELAB values; RGB as float in [0, 1]."""
    lab = rgb_to_lab(rgb01).reshape(-1, 3)
    return lab.mean(0), lab.std(0)


def reinhard_transfer_float(content: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Reinhard colour transfer on float RGB in [0, 1] (H×W×3 each; sizes may differ).

    Returns float64 RGB, unclipped, whose CIELAB per-channel means and stds equal the style's
    (to ~1e-9). A constant content channel (std < ``EPS_STD``) becomes the style's mean.
    """
    content = _check("content", content, "f")
    style = _check("style", style, "f")
    lab = rgb_to_lab(content)
    mu_c, sd_c = lab.reshape(-1, 3).mean(0), lab.reshape(-1, 3).std(0)
    mu_s, sd_s = lab_stats(style)
    scale = np.where(sd_c > EPS_STD, sd_s / np.maximum(sd_c, EPS_STD), 0.0)
    return lab_to_rgb((lab - mu_c) * scale + mu_s)


def reinhard_transfer(content_uint8: np.ndarray, style_uint8: np.ndarray) -> np.ndarray:
    """Reinhard colour transfer on uint8 RGB images → uint8 H×W×3 (the content's size).

    :func:`reinhard_transfer_float`, then rounded and clipped to [0, 255]; see the module notes
    for how far that moves the Lab statistics.
    """
    c = _check("content", content_uint8, "u8").astype(np.float64) / 255.0
    s = _check("style", style_uint8, "u8").astype(np.float64) / 255.0
    return to_uint8(reinhard_transfer_float(c, s))


def luminance_transfer_float(original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """Original colours with the stylized image's luminance (YIQ), float RGB in [0, 1], same size both, unclipped."""
    original = _check("original", original, "f")
    stylized = _check("stylized", stylized, "f")
    if original.shape != stylized.shape:
        raise ImageError(f"luminance transfer needs images of one size; got {original.shape[:2]} and {stylized.shape[:2]}")
    yiq_o = np.asarray(original, np.float64) @ _RGB2YIQ.T
    yiq_s = np.asarray(stylized, np.float64) @ _RGB2YIQ.T
    yiq = np.concatenate([yiq_s[..., :1], yiq_o[..., 1:]], axis=-1)
    return yiq @ _YIQ2RGB.T


def luminance_transfer(original_uint8: np.ndarray, stylized_uint8: np.ndarray) -> np.ndarray:
    """Keep ``original``'s colours, take ``stylized``'s luminance; uint8 H×W×3 in and out (same size).

    A stylized image of another size is resized (bicubic) to the original's first.
    """
    o = _check("original", original_uint8, "u8")
    s = _check("stylized", stylized_uint8, "u8")
    if s.shape != o.shape:
        from PIL import Image

        s = np.asarray(Image.fromarray(s).resize((o.shape[1], o.shape[0]), Image.Resampling.BICUBIC))
    return to_uint8(luminance_transfer_float(o.astype(np.float64) / 255.0, s.astype(np.float64) / 255.0))


def rgb_to_yiq(rgb01: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] → YIQ (float64); Y is the luminance used by :func:`luminance_transfer`."""
    return np.asarray(rgb01, np.float64) @ _RGB2YIQ.T


def to_uint8(rgb01: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] → uint8 (rounded, clipped)."""
    return np.clip(np.rint(np.asarray(rgb01) * 255.0), 0, 255).astype(np.uint8)
