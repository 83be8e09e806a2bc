#!/usr/bin/env bash
# GPU check of the StyleForge CUDA kernels, for a fresh machine of the device image (PyTorch CUDA,
# CuPy, cuda-python, nvcc; no TensorRT, no network; styleforge NOT installed).
#   bash benchmarks/gpu_check.sh            # compile (NVRTC and nvcc), GPU tests, benchmarks; < 6 min
#   bash benchmarks/gpu_check.sh --dry-run  # what runs where, on any machine (no GPU needed)
# Writes under $OUT (default ./gpu_check_out): env.txt, compile.txt, pytest.txt, kernels_table.txt, kernels_bench.json.
set -u -o pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$REPO/gpu_check_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
DRY=0; [ "${1:-}" = "--dry-run" ] && DRY=1

# styleforge.{train,export,runtime,kernels} map onto the repo's folders (pyproject package-dir);
# without installing, benchmarks/sfpath.py makes a folder of symlinks for PYTHONPATH with the same namespace.
export PYTHONPATH="$("$PY" "$REPO/benchmarks/sfpath.py")${PYTHONPATH:+:$PYTHONPATH}"
export STYLEFORGE_KERNEL_CACHE="${STYLEFORGE_KERNEL_CACHE:-$OUT/.kcache}"
export PYTHONUNBUFFERED=1

if [ $DRY = 1 ]; then
  echo "repo=$REPO OUT=$OUT PYTHONPATH=$PYTHONPATH cache=$STYLEFORGE_KERNEL_CACHE"
  "$PY" -c "import styleforge.kernels.loader as l, styleforge.kernels.ops as o; print('import ok', l.SOURCES)" || exit 1
  "$PY" "$REPO/benchmarks/kernels_bench.py" --dry-run || exit 1
  echo "would run: nvidia-smi; loader --precompile (nvrtc, nvcc); pytest -m gpu tests/test_kernels.py; kernels_bench.py"
  exit 0
fi

rc=0
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1;
  nvcc --version 2>&1 | tail -2; "$PY" - <<'PYEOF'
import importlib
for m in ("torch", "cupy", "cuda.bindings", "cuda.core", "tensorrt"):
    try:
        mod = importlib.import_module(m); print(m, getattr(mod, "__version__", "?"))
    except Exception as e:
        print(m, "missing:", type(e).__name__)
PYEOF
} 2>&1 | tee "$OUT/env.txt"

echo "== compile (NVRTC and nvcc, sm of this GPU, in parallel) =="
( timeout 240 "$PY" -m styleforge.kernels.loader --compiler nvrtc 2>&1 | sed 's/^/nvrtc: /' ) > "$OUT/compile_nvrtc.txt" &
P1=$!
( STYLEFORGE_KERNEL_CACHE="$OUT/.kcache_nvcc" timeout 240 "$PY" -m styleforge.kernels.loader --compiler nvcc 2>&1 | sed 's/^/nvcc: /' ) > "$OUT/compile_nvcc.txt" &
P2=$!
wait $P1 || { echo "NVRTC compile failed (nvcc is the fallback)"; }
wait $P2 || { echo "nvcc compile failed"; rc=1; }
cat "$OUT/compile_nvrtc.txt" "$OUT/compile_nvcc.txt" | tee "$OUT/compile.txt"
if ! grep -q "^nvrtc: total" "$OUT/compile_nvrtc.txt"; then
  export STYLEFORGE_KERNELS_COMPILER=nvcc STYLEFORGE_KERNEL_CACHE="$OUT/.kcache_nvcc"
fi

echo "== GPU tests =="
( cd "$REPO" && timeout 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu tests/test_kernels.py -rs 2>&1 ) | tee "$OUT/pytest.txt" | tail -25
[ "${PIPESTATUS[0]}" = 0 ] || rc=1

echo "== benchmarks =="
( cd "$REPO" && timeout 200 "$PY" benchmarks/kernels_bench.py --runs "${RUNS:-100}" --out "$OUT" 2>&1 ) | tee "$OUT/bench_log.txt"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
rm -rf "$OUT/.kcache" "$OUT/.kcache_nvcc"
echo "gpu_check rc=$rc"
exit $rc
