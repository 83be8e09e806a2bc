"""Benchmarks of the StyleForge CUDA kernels against the PyTorch baselines (run by gpu_check.sh).

Each timing: median of --runs runs, CUDA events around the call, L2 flushed (a 256 MB buffer
written) before every run. Achieved TB/s counts the bytes the op must move (input read once, output
written once); TFLOP/s counts 2·B·C²·N for a covariance/Gram (the GEMM-equivalent; the kernel computes
about half of it thanks to symmetry). Baselines: (a) the eager chain mean, subtract, bmm, scale in
the input dtype; (b) the torch.linalg.eigh WCT path (fp32). --dry-run checks the plan without a GPU.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

COV_CASES = [  # (label, B, C, N, dtype, precision)
    ("relu1_1 512² fp32", 1, 64, 512 * 512, "float32", "3xtf32"),
    ("relu1_1 512² fp32 tf32", 1, 64, 512 * 512, "float32", "tf32"),
    ("relu1_1 512² fp16", 1, 64, 512 * 512, "float16", "3xtf32"),
    ("relu2_1 512² fp32", 1, 128, 256 * 256, "float32", "3xtf32"),
    ("relu2_1 512² fp32 tf32", 1, 128, 256 * 256, "float32", "tf32"),
    ("relu2_1 512² fp16", 1, 128, 256 * 256, "float16", "3xtf32"),
    ("relu1_1 512² fp16 B4", 4, 64, 512 * 512, "float16", "3xtf32"),
    ("relu3_1 512² fp32", 1, 256, 128 * 128, "float32", "3xtf32"),
    ("relu4_1 512² fp32", 1, 512, 64 * 64, "float32", "3xtf32"),
    ("relu5_1 512² fp32", 1, 512, 32 * 32, "float32", "3xtf32"),
]
WCT_CASES = [  # (label, C, Nc, Ns)
    ("WCT relu5_1 512² C512", 512, 32 * 32, 32 * 32),
    ("WCT relu4_1 512² C512", 512, 64 * 64, 64 * 64),
    ("WCT relu3_1 512² C256", 256, 128 * 128, 128 * 128),
]
SPLIT_SWEEP = ("relu1_1 512² fp16", "relu1_1 512² fp32 tf32")


def bench(fn, runs, flush, torch):
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(runs)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(runs)]
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    for i in range(runs):
        flush.zero_()
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    ts = [s.elapsed_time(e) for s, e in zip(starts, ends)]
    return statistics.median(ts) * 1e-3, (min(ts) * 1e-3, max(ts) * 1e-3)


def graphed(fn, torch):
    """Capture fn (a fixed launch sequence) in a CUDA graph; returns graph.replay (no host launch overhead)."""
    st = torch.cuda.Stream()
    st.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(st):
        fn()
    torch.cuda.current_stream().wait_stream(st)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    torch.cuda.synchronize()
    return graph.replay


def rel_err(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--dry-run", action="store_true", help="print the cases and launch plans; no GPU needed")
    ap.add_argument("--quick", action="store_true", help="fewer cases (the C<=128 and C=512 targets only)")
    args = ap.parse_args(argv)

    from styleforge.kernels import ops

    if args.dry_run:
        for label, b, c, n, dt, prec in COV_CASES:
            print(f"{label:28s} {ops.covariance_plan(b, c, n, dt, precision=prec)}")
        for label, c, nc, ns in WCT_CASES:
            print(f"{label:28s} workspace floats {ops.WctWorkspace.sizes(1, 1, c, nc, ns).total()}")
        return 0

    import torch

    from styleforge.kernels import reference, torch_ops

    assert torch.cuda.is_available(), "no CUDA device"
    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(0)
    flush = torch.empty(64 * 1024 * 1024, dtype=torch.float32, device=dev)  # 256 MB > L2
    rows, notes = [], []
    g = torch.Generator(device=dev).manual_seed(0)

    # device-to-device copy: the practical bandwidth ceiling on this card
    a = torch.empty(256 * 1024 * 1024 // 4, device=dev)
    bb = torch.empty_like(a)
    t, _ = bench(lambda: bb.copy_(a), 50, flush, torch)
    copy_tbs = 2 * a.numel() * 4 / t / 1e12
    notes.append(f"device-to-device copy (256 MB): {copy_tbs:.2f} TB/s (read+write)")
    del a, bb

    cases = COV_CASES if not args.quick else [c for c in COV_CASES if c[2] <= 128 or c[3] == 1024]
    for label, B, C, N, dt, prec in cases:
        dtype = getattr(torch, dt)
        x = torch.relu(torch.randn(B, C, N, device=dev, generator=g)).to(dtype)
        s = 1.0 / (N - 1)
        plan = ops.covariance_plan(B, C, N, dt, scale=s, precision=prec, num_sms=props.multi_processor_count)
        ws = torch.empty(max(ops.covariance_plan(B, C, N, dt, precision=prec, num_sms=props.multi_processor_count,
                                                 splits=sp).ws_floats for sp in (plan.splits, plan.splits * 2)), device=dev)
        out = torch.empty(B, C, C, device=dev)
        mean = torch.empty(B, C, device=dev)

        def fused(splits=None):
            ops.covariance(x, out, ws, B=B, C=C, N=N, dtype=dt, centre=True, scale=s, mean=mean,
                           stream=torch.cuda.current_stream().cuda_stream, precision=prec, splits=splits)

        def eager():
            xc = x - x.mean(-1, keepdim=True)
            return torch.bmm(xc, xc.transpose(1, 2)).float() * s

        fused()
        ref = reference.covariance_torch(x.double(), centre=True, scale=s)[0]
        out.fill_(float("nan"))
        replay = graphed(fused, torch)
        replay()
        torch.cuda.synchronize()
        err = rel_err(out, ref)
        t_k, _ = bench(replay, args.runs, flush, torch)
        t_l, _ = bench(fused, args.runs, flush, torch)
        t_e, _ = bench(eager, args.runs, flush, torch)
        nbytes = B * C * N * x.element_size() + B * C * C * 4
        notes.append(f"{label}: graph {t_k * 1e6:.1f} us, eager launches {t_l * 1e6:.1f} us, replicas {plan.replicas}")
        flops = 2 * B * C * C * N
        rows.append(dict(case=label, kernel=plan.kernel, splits=plan.splits, us=t_k * 1e6, eager_us=t_e * 1e6,
                         tbs=nbytes / t_k / 1e12, tflops=flops / t_k / 1e12, pct_peak=100 * nbytes / t_k / 3.35e12,
                         speedup=t_e / t_k, rel_err=err))
        if label in SPLIT_SWEEP:
            # ablation: the accumulate kernel alone (no zero/finalize), with 1 and with the planned replicas
            from styleforge.kernels import loader

            k = loader.get_kernel(plan.kernel)
            for reps in sorted({1, plan.replicas}):
                def accum(reps=reps):
                    k((plan.tiles, plan.splits, B), (plan.threads,),
                      (x, ws, 0, C, N, plan.chunk, plan.nt, C * N, reps, B), shared_mem=plan.smem,
                      stream=torch.cuda.current_stream().cuda_stream)
                t_a, _ = bench(graphed(accum, torch), args.runs, flush, torch)
                notes.append(f"{label}: accumulate kernel alone, replicas={reps}: {t_a * 1e6:.1f} us "
                             f"({nbytes / t_a / 1e12:.2f} TB/s)")
            for sp in (plan.splits // 4, plan.splits // 2, plan.splits * 2):
                if sp >= 1:
                    t_s, _ = bench(graphed(lambda: fused(sp), torch), args.runs, flush, torch)
                    notes.append(f"{label}: splits={sp}: {t_s * 1e6:.1f} us ({nbytes / t_s / 1e12:.2f} TB/s); "
                                 f"default {plan.splits}: {t_k * 1e6:.1f} us")
        del x, ws, out
    # WCT
    for label, C, Nc, Ns in WCT_CASES if not args.quick else WCT_CASES[:2]:
        fc = torch.relu(torch.randn(1, C, Nc, device=dev, generator=g))
        fs = torch.relu(torch.randn(1, C, Ns, device=dev, generator=g)) * 2.0
        iters = 20  # train/wct_transforms.NS_ITERS

        def fused():
            return torch.ops.styleforge.whiten_color(fc, fs, 1.0, 1e-5, 1e-5, iters)

        def eigh():
            return reference.wct_eigh_torch(fc, fs, alpha=1.0)

        out = fused()
        ref = reference.wct_eigh_torch(fc.double(), fs.double(), alpha=1.0)
        err = rel_err(out, ref)
        t_k, _ = bench(fused, args.runs, flush, torch)
        t_e, _ = bench(eigh, max(20, args.runs // 5), flush, torch)
        # the same sequence captured in a CUDA graph (no host launch overhead)
        t_g = float("nan")
        try:
            gout = []
            replay = graphed(lambda: gout.append(fused()), torch)
            replay()
            torch.cuda.synchronize()
            gerr = rel_err(gout[-1], ref)
            t_g, _ = bench(replay, args.runs, flush, torch)
            notes.append(f"{label}: CUDA graph replay {t_g * 1e6:.0f} us (rel err {gerr:.1e}), eager launches {t_k * 1e6:.0f} us")
        except Exception as e:  # report, do not hide
            notes.append(f"{label}: CUDA graph capture failed: {type(e).__name__}: {e}")
        nsflops = 2 * iters * 3 * 2 * C ** 3 + 2 * 2 * C * C * (Nc + Ns) + 2 * C ** 3 + 2 * C * C * Nc
        best = min(t_k, t_g) if t_g == t_g else t_k
        rows.append(dict(case=label, kernel=f"ns x{iters}", splits=0, us=best * 1e6, eager_us=t_e * 1e6,
                         tbs=(C * (2 * Nc + Ns) * 4) / best / 1e12, tflops=nsflops / best / 1e12,
                         pct_peak=float("nan"), speedup=t_e / best, rel_err=err))
    # style loss forward + backward (VGG19 relu1_1..relu5_1 at 256², batch 4, fp32)
    try:
        shapes = [(64, 256), (128, 128), (256, 64), (512, 32), (512, 16)]
        feats = [torch.relu(torch.randn(4, c, h * h, device=dev, generator=g)).requires_grad_() for c, h in shapes]
        tg = [reference.gram_torch(torch.relu(torch.randn(1, c, h * h, device=dev, generator=g))) for c, h in shapes]
        w = [1.0] * 5

        def fused_sl():
            torch_ops.style_loss(feats, tg, w).backward()

        def ref_sl():
            tot = 0
            for f, t in zip(feats, tg):
                gm = reference.gram_torch(f)
                tot = tot + torch.mean((gm - t) ** 2)
            tot.backward()

        t_k, _ = bench(fused_sl, args.runs, flush, torch)
        t_e, _ = bench(ref_sl, args.runs, flush, torch)
        nbytes = sum(f.numel() * 4 * 3 for f in feats)
        rows.append(dict(case="style loss fwd+bwd 256² B4 fp32", kernel="5 layers", splits=0, us=t_k * 1e6,
                         eager_us=t_e * 1e6, tbs=nbytes / t_k / 1e12,
                         tflops=sum(4 * 4 * c * c * h * h for c, h in shapes) / t_k / 1e12, pct_peak=float("nan"),
                         speedup=t_e / t_k, rel_err=float("nan")))
    except Exception as e:
        notes.append(f"style loss benchmark failed: {type(e).__name__}: {e}")

    head = f"{'case':34s} {'kernel':26s} {'split':>5s} {'median us':>10s} {'TB/s':>6s} {'%3.35':>6s} {'TFLOP/s':>8s} {'base us':>9s} {'x base':>7s} {'rel err':>8s}"
    lines = [f"# {props.name}, {props.multi_processor_count} SMs, torch {torch.__version__}, median of {args.runs} runs, "
             "CUDA events, L2 flushed; fused ops timed as CUDA-graph replays, baselines eager", head]
    for r in rows:
        lines.append(f"{r['case']:34s} {r['kernel']:26s} {r['splits']:5d} {r['us']:10.1f} {r['tbs']:6.2f} {r['pct_peak']:6.1f} "
                     f"{r['tflops']:8.1f} {r['eager_us']:9.1f} {r['speedup']:7.2f} {r['rel_err']:8.1e}")
    lines += ["", *notes]
    text = "\n".join(lines)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "kernels_table.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "kernels_bench.json"), "w") as f:
        json.dump(dict(device=props.name, rows=rows, notes=notes, time=time.time()), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
