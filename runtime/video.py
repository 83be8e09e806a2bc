"""Video files (.mp4, .mov, .webm, …) through a per-frame image function, with imageio-ffmpeg (the ``video``
extra; its wheel ships its own ffmpeg): frames decoded, processed in batches, encoded at the source's exact frame
rate and size; the audio stream copied (re-encoded only when the output container refuses the codec); a progress
bar; optional temporal smoothing. The output is written under a temporary name and renamed when complete.

    process_video("in.mp4", "out.mp4", lambda frames: model.stylize_batch(frames), batch=8)

Temporal smoothing (``smoothing`` s in [0, 1)): an exponential moving average of the output frames,
``out_t = (1 − s)·y_t + s·out_{t−1}`` — it damps frame-to-frame flicker of the stylization but leaves ghosts on
fast motion (optical-flow warping would avoid them, at far more cost than this numpy-only runtime takes on).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import StyleForgeError

VIDEO_SUFFIXES = {".mp4", ".mov", ".webm", ".mkv", ".m4v"}
#: output container → (video codec, audio codec used when the source's audio cannot be copied)
CODECS = {".webm": ("libvpx-vp9", "libopus"), ".mp4": ("libx264", "aac"), ".mov": ("libx264", "aac"),
          ".m4v": ("libx264", "aac"), ".mkv": ("libx264", "aac")}


def is_video(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _imageio_ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError:
        raise StyleForgeError("video files need imageio-ffmpeg: pip install 'styleforge[video]'") from None
    return imageio_ffmpeg


def ffmpeg_exe() -> str:
    return _imageio_ffmpeg().get_ffmpeg_exe()


def exact_fps(fps: float) -> Fraction:
    """ffmpeg reports rates with 2 decimals; NTSC-style rates (N·1000/1001) are snapped back to their exact value."""
    for base in (24, 25, 30, 48, 50, 60, 120, 240):
        if abs(fps - base * 1000 / 1001) < 0.006:
            return Fraction(base * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def probe(path) -> dict:
    """The source's metadata (size, fps as an exact fraction, duration, codecs, ``has_audio``); no frame decoded."""
    path = Path(path)
    if not path.is_file():
        raise StyleForgeError(f"{path}: no such file")
    gen = _imageio_ffmpeg().read_frames(str(path))
    try:
        meta = next(gen)
    except (RuntimeError, OSError, StopIteration) as e:
        raise StyleForgeError(f"{path}: not a readable video ({str(e).strip().splitlines()[-1][:150] if str(e) else 'no stream'})") from None
    finally:
        gen.close()
    meta["fps_exact"] = exact_fps(meta["fps"])
    if "audio_codec" in meta:  # the header parser may keep a trailing comma ("opus,")
        meta["audio_codec"] = meta["audio_codec"].rstrip(",")
    meta["has_audio"] = "audio_codec" in meta
    return meta


def count_frames(path) -> int:
    """Frames in the file (decodes the whole stream)."""
    return _imageio_ffmpeg().count_frames_and_secs(str(path))[0]


def _add_audio(video_only: Path, source: Path, dst: Path, fallback_codec: str) -> str:
    """`dst` = the video of `video_only` + the audio of `source`: copied, or re-encoded if the container refuses it.
    No ``-shortest``: it cut frames where the audio track is a little shorter than the video."""
    base = [ffmpeg_exe(), "-y", "-v", "error", "-i", str(source), "-i", str(video_only),
            "-map", "1:v:0", "-map", "0:a?", "-c:v", "copy"]
    first = subprocess.run(base + ["-c:a", "copy", str(dst)], capture_output=True, text=True)
    if first.returncode == 0:
        return "copy"
    second = subprocess.run(base + ["-c:a", fallback_codec, str(dst)], capture_output=True, text=True)
    if second.returncode != 0:
        raise StyleForgeError(f"{dst}: ffmpeg could not add the audio ({second.stderr.strip()[-200:]})")
    return fallback_codec


def _check_video_args(dst: Path, smoothing: float, batch: int) -> str:
    """Refuse an output suffix with no codec, a smoothing outside [0, 1) or a batch below 1; returns the suffix."""
    suffix = dst.suffix.lower()
    if suffix not in CODECS:
        raise StyleForgeError(f"--out {dst}: a video output must end in one of {', '.join(sorted(CODECS))}")
    if not 0 <= smoothing < 1:
        raise StyleForgeError(f"--smoothing {smoothing}: must be in [0, 1)")
    if batch < 1:
        raise StyleForgeError(f"--batch {batch}: must be at least 1")
    return suffix


def _progress_bar(total: int | None, name: str):
    """A tqdm frame counter on stderr, or None where tqdm is not installed (the runtime does not need it)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="frame", desc=name, file=sys.stderr, dynamic_ncols=True)


def _frame_writer(imageio_ffmpeg, path: Path, size: tuple[int, int], fps, vcodec: str, quality: float):
    """imageio-ffmpeg's frame writer for `path`, with the codec's fast settings."""
    w, h = size
    speed = ["-row-mt", "1", "-deadline", "realtime", "-cpu-used", "8"] if vcodec == "libvpx-vp9" else ["-preset", "veryfast"]
    # yuv420p needs even sides; macro_block_size=1: the default 16 silently rescales other sizes
    return imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, codec=vcodec,
                                       pix_fmt_out="yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p",
                                       quality=quality, macro_block_size=1, output_params=speed, ffmpeg_log_level="error")


def _next_frames(reader, hw: tuple[int, int], batch: int) -> list[np.ndarray]:
    """Up to `batch` decoded H×W×3 uint8 frames from `reader` (empty at the end)."""
    frames = []
    for raw in reader:
        frames.append(np.frombuffer(raw, np.uint8).reshape(*hw, 3))
        if len(frames) == batch:
            break
    return frames


def _smooth(out: np.ndarray, previous: np.ndarray | None, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """Exponential smoothing over frames: (the uint8 frame to write, the float running average to carry on)."""
    cur = out.astype(np.float32)
    previous = cur if previous is None else (1 - smoothing) * cur + smoothing * previous
    return np.clip(np.rint(previous), 0, 255).astype(np.uint8), previous


def process_video(src, dst, fn, *, batch: int = 8, smoothing: float = 0.0, quality: float = 8, progress: bool = True,
                  copy_audio: bool = True) -> dict:
    """Apply ``fn(list of H×W×3 uint8) → list of H×W×3 uint8`` to every frame of `src`; write `dst`.

    Returns frames, size, fps, audio mode and the seconds spent decoding, in `fn` and encoding."""
    imageio_ffmpeg = _imageio_ffmpeg()
    src, dst = Path(src), Path(dst)
    suffix = _check_video_args(dst, smoothing, batch)
    meta = probe(src)
    vcodec, audio_fallback = CODECS[suffix]
    w, h = meta["size"]
    fps = meta["fps_exact"]
    total = int(round(meta["duration"] * float(fps))) if meta.get("duration") else None
    bar = _progress_bar(total, src.name) if progress else None
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.stem}.", suffix=".tmp", dir=dst.parent))
    video_only = tmp / ("video" + suffix)
    writer = _frame_writer(imageio_ffmpeg, video_only, (w, h), fps, vcodec, quality)
    reader = imageio_ffmpeg.read_frames(str(src))
    seconds = {"decode": 0.0, "model": 0.0, "encode": 0.0}
    frames_done, previous = 0, None
    try:
        next(reader)  # the metadata again
        writer.send(None)
        while True:
            t0 = time.perf_counter()
            frames = _next_frames(reader, (h, w), batch)
            seconds["decode"] += time.perf_counter() - t0
            if not frames:
                break
            t0 = time.perf_counter()
            outs = fn(frames)
            seconds["model"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            for out in outs:
                if smoothing > 0:
                    out, previous = _smooth(out, previous, smoothing)
                writer.send(np.ascontiguousarray(out))
            seconds["encode"] += time.perf_counter() - t0
            frames_done += len(frames)
            if bar is not None:
                bar.update(len(frames))
        t0 = time.perf_counter()
        writer.close()
        seconds["encode"] += time.perf_counter() - t0
        audio = "none"
        if copy_audio and meta["has_audio"]:
            muxed = tmp / ("muxed" + suffix)
            audio = _add_audio(video_only, src, muxed, audio_fallback)
            os.replace(muxed, dst)
        else:
            os.replace(video_only, dst)
    finally:
        reader.close()
        if bar is not None:
            bar.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"frames": frames_done, "size": (w, h), "fps": str(fps), "audio": audio,
            "seconds": {k: round(v, 3) for k, v in seconds.items()}}


def make_test_video(path, *, size=(160, 120), rate="30000/1001", seconds=2.0, audio=True) -> Path:
    """A synthetic clip (ffmpeg's ``testsrc`` pattern + a 440 Hz tone) made by the bundled ffmpeg, for tests and demos."""
    path = Path(path)
    vcodec, acodec = CODECS[path.suffix.lower()]
    w, h = size
    cmd = [ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={w}x{h}:rate={rate}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    cmd += ["-t", str(seconds), "-c:v", vcodec, "-pix_fmt", "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"]
    if vcodec == "libvpx-vp9":
        cmd += ["-deadline", "realtime", "-cpu-used", "8"]
    if audio:
        cmd += ["-c:a", acodec]
    subprocess.run(cmd + [str(path)], check=True, capture_output=True)
    return path
