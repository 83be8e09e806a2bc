"""GPU throughput of pix2pix and CycleGAN at paper scale (256 px, width 1): train steps/second.

    python benchmarks/gpu_image2image.py        # needs torch with CUDA; no tqdm/safetensors/skimage needed

Uses random paired/unpaired folders (throughput does not depend on content) and calls the
trainers' train_step directly (no checkpoints, no previews).
"""
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def folder(root: Path, paired: bool) -> Path:
    rng = np.random.default_rng(0)
    for d in ("A", "B"):
        (root / d).mkdir(parents=True, exist_ok=True)
        for k in range(4):
            Image.fromarray(rng.integers(0, 256, (288, 288, 3), dtype=np.uint8)).save(root / d / f"{k}.png")
    return root


def bench(cls, opts, warm: int, n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t = cls(Path(tmp) / "run", opts, steps=10_000, device="cuda", progress=False)
        for s in range(warm):
            t.train_step(t.next_batch(s), s)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for s in range(warm, warm + n):
            t.train_step(t.next_batch(s), s)
        torch.cuda.synchronize()
        return n / (time.perf_counter() - t0)


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device; skipping")
        return 0
    torch.backends.cudnn.benchmark = True
    from styleforge.train.image2image.cyclegan import CycleGANTrainer
    from styleforge.train.image2image.pix2pix import Pix2PixTrainer

    root = Path(tempfile.mkdtemp())
    paired, unpaired = folder(root / "p", True), folder(root / "u", False)
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    for b in (1, 16):
        res[f"pix2pix_256_w1_b{b}_steps_per_s"] = bench(
            Pix2PixTrainer, {"data": str(paired), "resolution": 256, "width_mult": 1.0, "batch": b}, 5, 30)
    res["cyclegan_256_w1_9blocks_b1_steps_per_s"] = bench(
        CycleGANTrainer, {"data": str(unpaired), "resolution": 256, "width_mult": 1.0, "batch": 1, "n_blocks": 9}, 5, 30)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
