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


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "1"])
def test_modes_become_rgb(tmp_path, mode):
    rng = np.random.default_rng(1)
    base = Image.fromarray(rng.integers(0, 255, (12, 14, 3), dtype=np.uint8))
    if mode == "I;16":
        img = Image.fromarray((rng.integers(0, 65535, (12, 14))).astype(np.uint16))
    elif mode == "I":
        img = base.convert("L").convert("I")
    else:
        img = base.convert(mode)
    p = tmp_path / ("x.jpg" if mode == "CMYK" else "x.tiff" if mode == "I" else "x.png")
    img.save(p)
    a = load_image(p)
    assert a.shape == (12, 14, 3) and a.dtype == np.uint8
    if mode == "I;16":  # 16-bit scaled into 8 bits, not clipped
        assert a.max() > 200


def test_transparent_pixels_composite_on_white(tmp_path):
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    p = tmp_path / "t.png"
    img.save(p)
    assert (load_image(p) == 255).all()


def test_exif_orientation_is_applied(tmp_path):
    img = Image.fromarray(np.zeros((10, 20, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    p = tmp_path / "r.jpg"
    img.save(p, "JPEG", exif=exif.tobytes())
    assert load_image(p).shape == (20, 10, 3)


def test_max_side_downsizes_keeping_aspect(tmp_path):
    p = tmp_path / "big.png"
    Image.new("RGB", (400, 200)).save(p)
    assert load_image(p, max_side=100).shape == (50, 100, 3)


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
    assert as_rgb_array(Image.new("L", (5, 6))).shape == (6, 5, 3)
    assert as_rgb_array(np.ones((4, 4), np.float32)).max() == 255
    with pytest.raises(ImageError, match="shape"):
        as_rgb_array(np.zeros((4, 4, 2), np.uint8))


def test_grid_and_listing(tmp_path):
    g = make_grid([np.zeros((10, 10, 3), np.uint8)] * 3, ncols=3, pad=1)
    assert g.shape == (12, 34, 3)
    with pytest.raises(ImageError, match="holds no images"):
        list_images([tmp_path])
