"""Data-parallel training under torchrun (train/core/distributed.py): 2 gloo processes on the CPU train the
stylizer (and resume it), the WCT decoder and every GAN family, and the logged losses — averaged over the ranks,
each rank on its shard of the global batch — equal a one-process run with the same global batch within float
tolerance. One ``torchrun --standalone --nproc-per-node 2`` launch runs every training through the CLI's main()."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ddp_runs import RUNS  # noqa: E402
from helpers import torch_threads  # noqa: E402

EXACT = ["stylizer", "wct/level2", "dcgan", "cgan", "wgan", "wgan-gp", "pgan", "cyclegan"]
#: measured worst relative difference 6.2e-7 (float32 reductions in another order); dropout (pix2pix) is not exact
RTOL = 1e-5


def history(run: Path) -> list[dict]:
    latest = (run / "checkpoints" / "LATEST").read_text().strip()
    return json.loads((run / "checkpoints" / latest / "train_state.json").read_text())["history"]


def torchrun(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *map(str, args)]
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from styleforge.runtime.cli import main

    root = tmp_path_factory.mktemp("ddp")
    with torch_threads(1):
        for name in RUNS:
            assert main(RUNS[name](str(root / "one"))) == 0, name
    # one torchrun launch (start-up dominates): the driver calls the CLI's main() for each run, as
    # `torchrun … -m styleforge.runtime.cli train …` does (docs/distributed.md)
    p = torchrun(Path(__file__).with_name("ddp_driver.py"), root / "two", *RUNS, cwd=root)
    return root / "one", root / "two", p


@pytest.mark.parametrize("family", EXACT)
def test_two_ranks_reproduce_one_process(runs, family):
    one, two, _ = runs
    a, b = history(one / family), history(two / family)
    assert len(a) == len(b) >= 2 and [h["step"] for h in a] == [h["step"] for h in b]
    for x, y in zip(a, b):
        for k in x:
            assert y[k] == pytest.approx(x[k], rel=RTOL, abs=1e-7), (family, x["step"], k, x[k], y[k])


def test_resume_and_the_recorded_global_batch(runs):
    one, two, launch = runs
    assert launch.stdout.count(f"wrote {two / 'wct'}") == 1  # only rank 0 reports (and writes)
    assert len(history(two / "stylizer")) == 4  # 2 steps, then --resume to 4: checked equal to one process above
    cfg = json.loads((two / "stylizer" / "checkpoints" / "step-0000004" / "config.json").read_text())
    assert cfg["data_parallel"] == {"world_size": 2, "global_batch": 4, "per_rank_batch": 2, "backend": "gloo"}
    single = json.loads((one / "stylizer" / "checkpoints" / "step-0000004" / "config.json").read_text())
    assert single["data_parallel"]["world_size"] == 1 and single["data_parallel"]["global_batch"] == 4
    gan = json.loads((two / "dcgan" / "checkpoints" / "step-0000003" / "config.json").read_text())
    assert gan["data_parallel"]["global_batch"] == 8 and gan["data_parallel"]["per_rank_batch"] == 4


def test_pix2pix_trains_but_dropout_is_per_rank(runs):
    """pix2pix's dropout masks are drawn per rank: it trains (finite losses, checkpoint) but is not bit-exact."""
    one, two, _ = runs
    b = history(two / "pix2pix")
    assert len(b) == 2 and all(np.isfinite(v) for h in b for v in h.values())


def test_shards_partition_the_global_batch():
    from styleforge.train.core.data import CropDataset
    from styleforge.train.core.distributed import World

    img = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    data = CropDataset([img, img[::-1].copy()], 16, seed=1)
    whole = data.batch(5, 6)
    parts = [data.batch(5, 6, shard=World(r, 3)) for r in range(3)]
    for r, part in enumerate(parts):
        assert torch.equal(part, whole[r::3])
    with pytest.raises(Exception, match="divisible"):
        World(0, 4).check_batch(6)
