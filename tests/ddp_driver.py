"""Run under torchrun by tests/test_distributed.py: trains several families data-parallel through the CLI, in one
process group (each run is `styleforge train …` as a user would type it after `torchrun … -m styleforge.runtime.cli`).

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/ddp_driver.py OUT RUN_NAME…
"""
import sys

import torch

from styleforge.runtime.cli import main

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ddp_runs import RUNS  # noqa: E402

torch.set_num_threads(1)
out = sys.argv[1]
for name in sys.argv[2:]:
    rc = main(RUNS[name](out))
    if rc:
        sys.exit(rc)
