#!/usr/bin/env bash
# Short GPU re-check of the whitening–colouring kernels only (after a WCT policy change):
# the WCT GPU tests and the --quick kernel benchmark. Same environment rules as gpu_check.sh.
set -u -o pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$REPO/gpu_check_out}"; mkdir -p "$OUT"
export PYTHONPATH="$(python3 "$REPO/benchmarks/sfpath.py")${PYTHONPATH:+:$PYTHONPATH}" STYLEFORGE_KERNEL_CACHE="${STYLEFORGE_KERNEL_CACHE:-/tmp/sf_kcache}" PYTHONUNBUFFERED=1
cd "$REPO"
timeout "${TEST_TIMEOUT:-80}" python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_kernels.py -k whiten -rs 2>&1 | tee "$OUT/wct_gpu_tests.txt" | tail -15
timeout "${BENCH_TIMEOUT:-60}" python3 benchmarks/kernels_bench.py --quick --runs 100 --out "$OUT" 2>&1 | tee "$OUT/wct_bench.txt" | tail -20
