"""Seconds per optimisation step at 256² for each feature-space method, L-BFGS and Adam (CPU by default).

    python benchmarks/optimize_step_time.py [--size 256] [--steps 3] [--device cpu]

Defaults of each method (VGG19, random(seed=0) unless --vgg-weights): invert relu3_1 from noise,
texture over relu1_1..relu5_1, stylize (content relu4_2 + 5 style layers), DFI reconstruction
(relu3_1, relu4_1, relu5_1; 24 synthetic faces; feature extraction of the dataset not counted).
Prints one JSON line per run: wall and process-CPU seconds per step, and the load average.
"""
import argparse
import json
import os

from styleforge.train.optimize.methods import LoopOptions, dfi, invert, stylize, texture
from styleforge.train.optimize.faces import make_dataset, probe_face
from styleforge.train.core.samples import resolve_image


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--vgg-weights", default=None)
    p.add_argument("--methods", default="invert,texture,stylize,dfi")
    a = p.parse_args()
    s = a.size
    chelsea, waves = resolve_image("sample:chelsea")[:, 75:375], resolve_image("sample:waves")  # square: 256²
    faces, attrs = make_dataset(24, s)
    for method in a.methods.split(","):
        for optimizer in ("lbfgs", "adam"):
            o = LoopOptions(steps=a.steps, optimizer=optimizer, progress=False, device=a.device, vgg_weights=a.vgg_weights)
            if method == "invert":
                r = invert(chelsea, "relu3_1", size=s, opts=o)
            elif method == "texture":
                r = texture(waves, size=s, opts=o)
            elif method == "stylize":
                r = stylize(chelsea, waves, size=s, opts=o)
            else:
                r = dfi(probe_face(s), faces, [x["glasses"] for x in attrs], strengths=[1.0], size=s, opts=o).results[0]
            print(json.dumps({"method": method, "optimizer": optimizer, "hw": list(r.image.shape[:2]),
                              "steps": a.steps, "wall_s_per_step": round(r.seconds_per_step, 3),
                              "cpu_s_per_step": round(r.cpu_seconds_per_step, 3), "loss_network": r.loss_network,
                              "loadavg_1m": round(os.getloadavg()[0], 1)}), flush=True)


if __name__ == "__main__":
    main()
