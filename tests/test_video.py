"""Video through stylize/translate (runtime/video.py, imageio-ffmpeg's bundled ffmpeg): short synthetic clips keep
their frame count, size and exact frame rate, the audio packets are copied unchanged, the model really ran on every
frame, and temporal smoothing is the documented moving average."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

pytest.importorskip("imageio_ffmpeg")

from toy_bundles import write_stylizer, write_translator  # noqa: E402


def audio_md5(path) -> str | None:
    """MD5 of the first audio stream's packets, without decoding."""
    from styleforge.runtime.video import ffmpeg_exe

    r = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0?", "-c", "copy", "-f", "md5", "-"],
                       capture_output=True, text=True)
    m = re.search(r"MD5=([0-9a-f]+)", r.stdout)
    return m.group(1) if m else None


def frames(path) -> np.ndarray:
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    out = np.stack([np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen])
    gen.close()
    return out


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("video")
    return write_stylizer(d / "toy.sfbundle"), write_translator(d / "cyc.sfbundle")


@pytest.mark.parametrize("name,size,rate,seconds,audio", [
    ("ntsc.mp4", (160, 120), "30000/1001", 1.0, True),   # NTSC rate, AAC copied
    ("odd.mov", (161, 121), "24", 0.5, False),           # odd sides (yuv444p), no audio
    ("clip.webm", (96, 64), "25", 0.6, True),            # VP9 + Opus
])
def test_stylize_video_keeps_frames_size_rate_and_audio(bundles, tmp_path, name, size, rate, seconds, audio):
    from fractions import Fraction

    from styleforge.runtime.cli import main
    from styleforge.runtime.video import count_frames, make_test_video, probe

    src = make_test_video(tmp_path / f"src_{name}", size=size, rate=rate, seconds=seconds, audio=audio)
    dst = tmp_path / f"out_{name}"
    assert main(["stylize", str(bundles[0]), str(src), "--out", str(dst), "--style-index", "1", "--batch", "4",
                 "--no-progress"]) == 0
    m_in, m_out = probe(src), probe(dst)
    assert count_frames(dst) == count_frames(src) == round(seconds * float(Fraction(rate)))
    assert m_out["size"] == m_in["size"] == size
    assert m_out["fps_exact"] == m_in["fps_exact"] == Fraction(rate)
    assert m_out["has_audio"] == audio
    if audio:
        assert audio_md5(dst) == audio_md5(src) is not None  # packets copied, not re-encoded
    # the model ran on every frame: the toy style 1 is x/2 + 50 (lossy codecs: compare means)
    a, b = frames(src).astype(np.float64), frames(dst).astype(np.float64)
    assert np.abs(b.mean(axis=(1, 2, 3)) - (a.mean(axis=(1, 2, 3)) * 0.5 + 50)).max() < 3
    assert not list(tmp_path.glob(".out_*"))  # no temporary left behind


def test_translate_video_and_smoothing(bundles, tmp_path):
    from styleforge.runtime.cli import main
    from styleforge.runtime.video import make_test_video, process_video

    src = make_test_video(tmp_path / "src.mp4", size=(64, 48), rate="25", seconds=0.4, audio=False)
    assert main(["translate", str(bundles[1]), str(src), "--out", str(tmp_path / "t.mp4"), "--no-progress"]) == 0
    a, b = frames(src).astype(np.float64), frames(tmp_path / "t.mp4").astype(np.float64)
    assert np.abs(b.mean(axis=(1, 2, 3)) - (255 - a.mean(axis=(1, 2, 3)))).max() < 3  # inverted
    # smoothing 0.5 on frames alternating 0 / 200: out_t = 0.5 y_t + 0.5 out_{t-1} (an exponential moving average)
    count = []

    def alternating(batch):
        out = [np.full(f.shape, 200 * ((len(count) + i) % 2), np.uint8) for i, f in enumerate(batch)]
        count.extend(batch)
        return out

    report = process_video(src, tmp_path / "s.mp4", alternating, batch=3, smoothing=0.5, progress=False)
    expected, prev = [], None
    for t in range(report["frames"]):
        prev = 200.0 * (t % 2) if prev is None else 0.5 * 200 * (t % 2) + 0.5 * prev
        expected.append(prev)
    got = frames(tmp_path / "s.mp4").astype(np.float64).mean(axis=(1, 2, 3))
    assert report["frames"] == 10 and np.abs(got - np.rint(expected)).max() < 3, (got, expected)


def test_bad_video_inputs_are_one_line(bundles, tmp_path, capsys):
    from styleforge.runtime.cli import main

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    assert main(["stylize", str(bundles[0]), str(bad), "--out", str(tmp_path / "o.mp4")]) == 2
    assert "not a readable video" in capsys.readouterr().err
    assert main(["stylize", str(bundles[0]), str(bad), "--out", str(tmp_path / "o.png")]) == 2
    assert "needs a video output" in capsys.readouterr().err
