#!/usr/bin/env bash
# GPU check of StyleForge, for a fresh machine of the device image (PyTorch CUDA, CuPy, cuda-python, nvcc;
# no TensorRT, no onnxruntime-gpu, no network; styleforge NOT installed):
#   bash benchmarks/gpu_check.sh            # kernels compile, GPU tests, doctor, kernel + torch-cuda runner benchmarks
#   bash benchmarks/gpu_check.sh --dry-run  # what runs where, on any machine (no GPU): imports, plans, doctor and
#                                           # the runner benchmark end to end on tiny CPU models (part of the suite)
# The whole check stays under 8 minutes: every step has a timeout, bounded by what is left of $BUDGET seconds.
# Writes under $OUT (default ./gpu_check_out): env.txt, compile.txt, pytest.txt, doctor.txt, kernels_table.txt,
# kernels_bench.json, torch_runner_table.txt, torch_runner_bench.json.
set -u -o pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$REPO/gpu_check_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
DRY=0; [ "${1:-}" = "--dry-run" ] && DRY=1
BUDGET="${BUDGET:-470}"   # seconds for everything (< 8 minutes)

# styleforge.{train,export,runtime,kernels} map onto the repo's folders (pyproject package-dir);
# without installing, benchmarks/sfpath.py makes a folder of symlinks for PYTHONPATH with the same namespace.
export PYTHONPATH="$("$PY" "$REPO/benchmarks/sfpath.py")${PYTHONPATH:+:$PYTHONPATH}"
export STYLEFORGE_KERNEL_CACHE="${STYLEFORGE_KERNEL_CACHE:-$OUT/.kcache}"
export STYLEFORGE_CACHE_DIR="${STYLEFORGE_CACHE_DIR:-$OUT/.cache}"
export PYTHONUNBUFFERED=1

# timeout for a step: at most $1 seconds, and never past the budget (10 s kept for the end)
limit() { local left=$(( BUDGET - SECONDS - 10 )); [ "$left" -lt 5 ] && left=5; [ "$1" -lt "$left" ] && echo "$1" || echo "$left"; }

if [ $DRY = 1 ]; then
  echo "repo=$REPO OUT=$OUT PYTHONPATH=$PYTHONPATH cache=$STYLEFORGE_KERNEL_CACHE budget=${BUDGET}s"
  "$PY" -c "import styleforge.kernels.loader as l, styleforge.kernels.ops as o; print('import ok', l.SOURCES)" || exit 1
  "$PY" "$REPO/benchmarks/kernels_bench.py" --dry-run || exit 1
  "$PY" -m styleforge.runtime.cli doctor > "$OUT/doctor.txt" 2>&1 || { cat "$OUT/doctor.txt"; exit 1; }
  grep -q "^runners:" "$OUT/doctor.txt" || exit 1
  echo "doctor ok: $(grep -c 'usable' "$OUT/doctor.txt") runner lines"
  timeout "$(limit 240)" "$PY" "$REPO/benchmarks/torch_runner_bench.py" --dry-run --out "$OUT/torch_runner" || exit 1
  echo "would run: nvidia-smi; loader --precompile (nvrtc, nvcc); pytest -m gpu tests/; doctor; kernels_bench.py;"
  echo "           torch_runner_bench.py (stylizer + WCT bundles: torch-eager CPU, torch-cuda, cuda-graphs, fp16, channels-last, ort-cpu)"
  exit 0
fi

rc=0
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1;
  nvcc --version 2>&1 | tail -2; "$PY" - <<'PYEOF'
import importlib
for m in ("torch", "cupy", "cuda.bindings", "cuda.core", "onnx", "onnxruntime", "tensorrt"):
    try:
        mod = importlib.import_module(m); print(m, getattr(mod, "__version__", "?"))
    except Exception as e:
        print(m, "missing:", type(e).__name__)
PYEOF
} 2>&1 | tee "$OUT/env.txt"

echo "== compile (NVRTC and nvcc, sm of this GPU, in parallel) =="
T=$(limit 120)
( timeout "$T" "$PY" -m styleforge.kernels.loader --compiler nvrtc 2>&1 | sed 's/^/nvrtc: /' ) > "$OUT/compile_nvrtc.txt" &
P1=$!
( STYLEFORGE_KERNEL_CACHE="$OUT/.kcache_nvcc" timeout "$T" "$PY" -m styleforge.kernels.loader --compiler nvcc 2>&1 | sed 's/^/nvcc: /' ) > "$OUT/compile_nvcc.txt" &
P2=$!
wait $P1 || { echo "NVRTC compile failed (nvcc is the fallback)"; }
wait $P2 || { echo "nvcc compile failed"; rc=1; }
cat "$OUT/compile_nvrtc.txt" "$OUT/compile_nvcc.txt" | tee "$OUT/compile.txt"
if ! grep -q "^nvrtc: total" "$OUT/compile_nvrtc.txt"; then
  export STYLEFORGE_KERNELS_COMPILER=nvcc STYLEFORGE_KERNEL_CACHE="$OUT/.kcache_nvcc"
fi

echo "== GPU tests (every test marked gpu) =="
( cd "$REPO" && timeout "$(limit 150)" "$PY" -m pytest -q -p no:cacheprovider -m gpu tests/ -rs 2>&1 ) | tee "$OUT/pytest.txt" | tail -25
[ "${PIPESTATUS[0]}" = 0 ] || rc=1

echo "== kernel benchmarks =="
( cd "$REPO" && timeout "$(limit 120)" "$PY" benchmarks/kernels_bench.py --runs "${RUNS:-100}" --out "$OUT" 2>&1 ) | tee "$OUT/bench_log.txt"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1

echo "== torch-cuda runner benchmark (stylizer and WCT bundles) =="
( cd "$REPO" && timeout "$(limit 150)" "$PY" benchmarks/torch_runner_bench.py --out "$OUT/torch_runner" --runs "${RUNNER_RUNS:-50}" 2>&1 ) \
  | tee "$OUT/torch_runner_log.txt" | grep -v '^{'
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
cp "$OUT/torch_runner/torch_runner_table.txt" "$OUT/torch_runner/torch_runner_bench.json" "$OUT/" 2>/dev/null

echo "== doctor (this machine, and the stylizer bundle just made) =="
B="$OUT/torch_runner/models/stylizer.sfbundle"; [ -d "$B" ] || B=""
( cd "$REPO" && timeout "$(limit 40)" "$PY" -m styleforge.runtime.cli doctor $B 2>&1 ) | tee "$OUT/doctor.txt"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1

rm -rf "$OUT/.kcache" "$OUT/.kcache_nvcc" "$OUT/torch_runner/models"
echo "gpu_check rc=$rc (${SECONDS}s)"
exit $rc
