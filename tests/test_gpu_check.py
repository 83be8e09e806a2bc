"""benchmarks/gpu_check.sh --dry-run on this CPU machine: the GPU check's plan, imports, doctor and the torch
runner benchmark end to end on tiny CPU models, so the script cannot rot between GPU sessions."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_dry_run(tmp_path):
    pytest.importorskip("torch")
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--dry-run"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "would run:" in p.stdout and "doctor ok" in p.stdout
    doctor = (tmp_path / "doctor.txt").read_text()
    assert "runners:" in doctor and "ort-cpu   usable" in doctor
    table = (tmp_path / "torch_runner" / "torch_runner_table.txt").read_text()
    assert table.startswith("# no GPU (dry run)")
    for model in ("stylizer", "wct"):
        rows = [line.split() for line in table.splitlines() if line.startswith(model)]
        assert {r[2] for r in rows} == {"torch-eager", "torch-eager-cl", "ort-cpu"}, table
        assert all(float(r[-1]) < 0.01 for r in rows), table  # every runner agrees with torch-eager on the CPU
