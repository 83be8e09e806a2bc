"""Image handling: every malformed kind is refused with a clear message naming the file;
every odd-but-valid kind becomes H×W×3 uint8 RGB."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from styleforge.runtime.errors import ImageError
from styleforge.runtime.images import (as_rgb_array, list_images, load_image, make_grid, pad_to_multiple,
                                       save_image, to_hwc_uint8, to_nchw_float)

pytestmark = pytest.mark.runtime  # runs with the runtime alone too (.ci/run's second step)


def _png_with_size(w: int, h: int) -> bytes:
    """A PNG whose header claims w×h (the data is tiny and wrong; we must refuse before decoding)."""
    b = io.BytesIO()
    Image.new("RGB", (8, 8)).save(b, "PNG")
    data = bytearray(b.getvalue())
    ihdr = struct.pack(">II", w, h) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("kind, content, reason", [
    ("empty.png", b"", "empty"),
    ("text.png", b"this is not an image\n" * 10, "not a readable image"),
    ("huge.png", _png_with_size(100_000, 100_000), "pixel limit"),
    ("tiny.png", _png_with_size(4, 4), "at least"),
])
def test_malformed_images_are_refused(tmp_path, kind, content, reason):
    p = tmp_path / kind
    p.write_bytes(content)
    with pytest.raises(ImageError) as e:
        load_image(p)
    assert str(p) in str(e.value) and reason in str(e.value)
    assert "\n" not in str(e.value)


def test_truncated_image_is_refused(tmp_path):
    b = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(b, "PNG")
    p = tmp_path / "cut.png"
    p.write_bytes(b.getvalue()[: len(b.getvalue()) // 2])
    with pytest.raises(ImageError, match="truncated"):
        load_image(p)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")


def _expected_rgb(mode: str, img: Image.Image, rgb: np.ndarray) -> np.ndarray:
    """What each mode must become, computed independently of runtime/images.py."""
    if mode == "I;16":  # 16 bits scaled into 8 (÷257, rounded), not clipped
        a = np.asarray(img, np.float64)
        return np.repeat(np.rint(a / 257.0).astype(np.uint8)[:, :, None], 3, 2)
    if mode == "LA":    # no transparency in the image (alpha 255): the grey value itself
        return np.repeat(np.asarray(img.convert("L"))[:, :, None], 3, 2)
    if mode == "RGBA":
        return rgb
    return np.asarray(img.convert("RGB"))


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "1"])
def test_modes_become_rgb(tmp_path, mode):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (12, 14, 3), dtype=np.uint8)
    base = Image.fromarray(rgb)
    if mode == "I;16":
        img = Image.fromarray((rng.integers(0, 65535, (12, 14))).astype(np.uint16))
    elif mode == "I":
        img = base.convert("L").convert("I")
    else:
        img = base.convert(mode)
    # lossless formats only, so the decoded pixels are the ones written
    p = tmp_path / ("x.tiff" if mode in ("CMYK", "I") else "x.png")
    img.save(p)
    a = load_image(p)
    assert a.shape == (12, 14, 3) and a.dtype == np.uint8
    assert np.array_equal(a, _expected_rgb(mode, img, rgb)), mode
    if mode in ("L", "LA", "I", "1", "I;16"):  # grey modes: three equal channels
        assert np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2])
    if mode == "1":
        assert set(np.unique(a)) <= {0, 255}
    if mode == "I":  # 8-bit values stored in 32 bits stay as they were
        assert np.array_equal(a[..., 0], np.asarray(base.convert("L")))


def test_transparent_pixels_composite_on_white(tmp_path):
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    img.putpixel((3, 4), (200, 100, 50, 255))    # opaque: kept
    img.putpixel((5, 6), (0, 0, 0, 128))         # half transparent black over white: ~127
    p = tmp_path / "t.png"
    img.save(p)
    a = load_image(p)
    assert tuple(a[4, 3]) == (200, 100, 50)
    assert all(abs(int(v) - 127) <= 1 for v in a[6, 5])
    mask = np.ones((10, 10), bool)
    mask[4, 3] = mask[6, 5] = False
    assert (a[mask] == 255).all()


def test_exif_orientation_is_applied(tmp_path):
    """EXIF 6 (rotate 90° clockwise on display): the pixel at the top-left lands at the top-right."""
    img = np.zeros((16, 32, 3), np.uint8)
    img[:8, :8] = 255                       # a white block at the top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "r.png"
    Image.fromarray(img).save(p, "PNG", exif=exif.tobytes())
    a = load_image(p)
    assert a.shape == (32, 16, 3)
    assert np.array_equal(a, np.rot90(img, k=-1))   # clockwise
    assert (a[:8, -8:] == 255).all() and (a[8:, :] == 0).all()


def test_max_side_downsizes_keeping_aspect(tmp_path):
    p = tmp_path / "big.png"
    rgb = np.random.default_rng(3).integers(0, 255, (200, 400, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(p)
    a = load_image(p, max_side=100)
    assert a.shape == (50, 100, 3)
    want = np.asarray(Image.fromarray(rgb).resize((100, 50), Image.Resampling.LANCZOS))
    assert np.array_equal(a, want)               # a resampling of the picture, not a crop or a blank
    assert np.array_equal(load_image(p, max_side=1000), rgb)   # never upsized


def test_save_is_atomic_and_checks_suffix(tmp_path):
    with pytest.raises(ImageError, match="unsupported output format"):
        save_image(tmp_path / "out.xyz", np.zeros((8, 8, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
    save_image(tmp_path / "out.png", np.full((8, 9, 3), 7, np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert (load_image(tmp_path / "out.png") == 7).all()


def test_pad_crop_roundtrip_and_layout():
    imgs = [np.random.default_rng(2).integers(0, 255, (13, 18, 3), dtype=np.uint8)] * 2
    x = to_nchw_float(imgs)
    assert x.shape == (2, 3, 13, 18) and x.dtype == np.float32
    padded, (h, w) = pad_to_multiple(x, 4)
    assert padded.shape == (2, 3, 16, 20) and (h, w) == (13, 18)
    back = to_hwc_uint8(padded[:, :, :h, :w])
    assert np.array_equal(back[0], imgs[0])


def test_as_rgb_array_accepts_pil_gray_float():
    grey = np.arange(8 * 9, dtype=np.uint8).reshape(9, 8)
    a = as_rgb_array(Image.fromarray(grey))
    assert a.shape == (9, 8, 3) and all(np.array_equal(a[..., c], grey) for c in range(3))
    f = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    assert np.array_equal(as_rgb_array(f)[..., 1], np.rint(f * 255).astype(np.uint8))   # [0, 1] floats scaled
    f255 = np.full((8, 8, 3), 200.4, np.float32)
    assert (as_rgb_array(f255) == 200).all()                                           # [0, 255] floats kept
    rgba = np.dstack([np.full((8, 8, 3), 9, np.uint8), np.zeros((8, 8), np.uint8)])
    assert (as_rgb_array(rgba) == 9).all()                                              # alpha dropped
    with pytest.raises(ImageError, match="shape"):
        as_rgb_array(np.zeros((8, 8, 2), np.uint8))
    with pytest.raises(ImageError, match="NaN"):
        as_rgb_array(np.full((8, 8), np.nan, np.float32))


@pytest.mark.parametrize("image, reason", [
    (np.zeros((4, 4, 3), np.uint8), "at least 8"),
    (np.zeros((7, 100), np.float32), "at least 8"),
    (Image.new("RGB", (5, 40)), "at least 8"),
    (np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (9000, 9000, 3)), "pixel limit"),  # 81 Mpx, no memory used
])
def test_arrays_obey_the_size_rules_of_files(image, reason):
    """numpy arrays and PIL images given to a model meet the same MIN_SIDE / MAX_PIXELS rules as files."""
    with pytest.raises(ImageError, match=reason) as e:
        as_rgb_array(image)
    assert "\n" not in str(e.value)


def test_models_refuse_tiny_arrays(tmp_path):
    """Through a model's own call: a 4×4 array is one clear error, not an ONNX Runtime failure."""
    from helpers import write_scale_bundle
    from styleforge.runtime import load

    model = load(write_scale_bundle(tmp_path / "s.sfbundle", interface="stylizer"), backend="ort-cpu")
    assert model(np.zeros((8, 8, 3), np.uint8)).shape == (8, 8, 3)
    with pytest.raises(ImageError, match="at least 8"):
        model(np.zeros((4, 4, 3), np.uint8))


def test_grid_and_listing(tmp_path):
    tiles = [np.full((10, 10, 3), v, np.uint8) for v in (10, 20, 30)] + [np.full((4, 6, 3), 40, np.uint8)]
    g = make_grid(tiles, ncols=3, pad=1)   # tiles may be tiny (generator samples): no size rule here
    assert g.shape == (2 * 10 + 3, 3 * 10 + 4, 3)
    for k, v in enumerate((10, 20, 30)):
        assert (g[1:11, 1 + 11 * k:11 + 11 * k] == v).all()            # row-major placement
    assert (g[12:16, 1:7] == 40).all() and (g[12:22, 7:11] == 255).all()  # small tile top-left, fill beside it
    assert (g[0] == 255).all() and (g[:, 0] == 255).all()                  # padding is the fill colour
    with pytest.raises(ImageError, match="holds no images"):
        list_images([tmp_path])
    for name in ("b.png", "a.jpg", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images([tmp_path])] == ["a.jpg", "b.png"]
