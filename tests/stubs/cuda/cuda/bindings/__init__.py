"""Stub of cuda-python's ``cuda.bindings`` (cuda-bindings 12.9/13.x layout: ``from cuda.bindings import
runtime, driver``) behaving like the real package on a machine WITHOUT an NVIDIA driver.

Measured with the real packages here (no GPU, no libcuda): cuda-bindings 13.4.4 and 12.9.10 import fine;
every runtime call that needs the driver returns ``(cudaError_t.cudaErrorInsufficientDriver, None)``
(e.g. cudaGetDevice, cudaGetDeviceCount, cudaGetDeviceProperties(0), cudaStreamCreate,
cudaMallocHost(1024)); cudaRuntimeGetVersion() -> (cudaSuccess, 13040 / 12090);
cudaDriverGetVersion() -> (cudaSuccess, 0); the driver API (cuInit) *raises*
cuda.pathfinder DynamicLibNotFoundError (a RuntimeError) because libcuda.so cannot be found.
Prefer the real package where it can be installed (``pip install cuda-python``): this stub exists so
tests need no extra dependency."""
__version__ = "0.0.0+styleforge-stub"
__stub__ = True
