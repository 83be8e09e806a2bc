"""Train one GAN family with its default config (+ JSON overrides), time fit(), export; see gan_device.sh."""
import json, os, shutil, sys, time
fam, name, steps, opts_json, device = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
import torch
from styleforge.train.gan import get_trainer_class
OUT = os.environ["OUT"]
opts = {"family": fam, **json.loads(opts_json)}
if device != "cpu":
    opts["device"] = device
run = f"/tmp/runs/{name}"
ck = max(1, steps // 4)
t = get_trainer_class(fam)(run, opts, steps=steps, seed=0, checkpoint_every=ck, preview_every=ck)
t.progress = False
t0 = time.perf_counter(); c0 = time.process_time()
ckpt = t.fit()
wall = time.perf_counter() - t0; cpu = time.process_time() - c0
dst = f"{OUT}/{name}"
os.makedirs(dst, exist_ok=True)
info = {"family": fam, "name": name, "steps": steps, "opts": opts, "device": device, "wall_s": wall, "cpu_s": cpu,
        "steps_per_s": steps / wall, "threads": torch.get_num_threads(), "last": t.history[-1]}
shutil.copytree(f"{run}/previews", f"{dst}/previews")
shutil.copytree(ckpt, f"{dst}/ckpt")
for f in ("train_state.safetensors",):
    os.remove(f"{dst}/ckpt/{f}")
try:
    from styleforge.export.core.api import export_checkpoint
    export_checkpoint(ckpt, f"{dst}/{name}.sfbundle")
except Exception as e:
    info["export_error"] = repr(e)
json.dump(info, open(f"{dst}/timing.json", "w"), indent=1)
print(json.dumps(info))
