"""GPU check for the stylizer (run on a CUDA machine; no styleforge install needed):

    python benchmarks/gpu_stylizer_check.py [--json OUT]

1. How far GPU fp32 arithmetic (TF32 convolutions on, as TensorRT and ORT-CUDA use by default,
   and off) moves TransformerNet's output from the CPU fp32 reference: the basis of the
   bundle tolerances, which must hold for GPU backends too.
2. PyTorch eager latency on the GPU at 256² and 512² (batch 1 and 4), for docs/stylizer.md.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _import_styleforge():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import sfpath

    sfpath.install()


def main() -> int:
    _import_styleforge()
    import numpy as np
    import torch

    from styleforge.train.core.registry import build_model

    assert torch.cuda.is_available(), "needs CUDA"
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "parity": [], "latency": []}
    for width, styles in ((0.5, 3), (1.0, 1)):
        torch.manual_seed(1)
        net = build_model("transformer_net", width_mult=width, num_styles=styles).eval()
        with torch.no_grad():
            for m in net.modules():
                if hasattr(m, "weight") and m.weight is not None and m.weight.dim() == 2:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.5, 0.5)
        gpu = build_model("transformer_net", width_mult=width, num_styles=styles).eval()
        gpu.load_state_dict(net.state_dict())
        gpu = gpu.cuda()
        rng = np.random.default_rng(0)
        for size in (256, 512):
            x = torch.from_numpy(rng.uniform(0, 255, (1, 3, size, size)).astype(np.float32))
            s = torch.zeros(1, dtype=torch.long)
            with torch.no_grad():
                ref = net(x, s).double()
                for tf32 in (False, True):
                    torch.backends.cudnn.allow_tf32 = tf32
                    torch.backends.cuda.matmul.allow_tf32 = tf32
                    y = gpu(x.cuda(), s.cuda()).double().cpu()
                    d = (y - ref).abs()
                    mse = float((d * d).mean())
                    out["parity"].append({"width": width, "size": size, "tf32": tf32, "max_abs": float(d.max()),
                                          "mean_abs": float(d.mean()), "p99_abs": float(torch.quantile(d.flatten()[:1_000_000], 0.99)),
                                          "psnr": 10 * np.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")})
                    print(json.dumps(out["parity"][-1]), flush=True)
            torch.backends.cudnn.allow_tf32 = True
            for batch in (1, 4):
                xb = torch.rand(batch, 3, size, size, device="cuda") * 255
                sb = torch.zeros(batch, dtype=torch.long, device="cuda")
                with torch.inference_mode():
                    for _ in range(5):
                        gpu(xb, sb)
                    torch.cuda.synchronize()
                    ts = []
                    for _ in range(30):
                        t0 = time.perf_counter()
                        gpu(xb, sb)
                        torch.cuda.synchronize()
                        ts.append((time.perf_counter() - t0) * 1000)
                med = float(np.median(ts))
                out["latency"].append({"width": width, "size": size, "batch": batch, "median_ms": med,
                                       "p90_ms": float(np.percentile(ts, 90)), "images_per_s": batch * 1000 / med})
                print(json.dumps(out["latency"][-1]), flush=True)
    if "--json" in sys.argv:
        Path(sys.argv[sys.argv.index("--json") + 1]).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
