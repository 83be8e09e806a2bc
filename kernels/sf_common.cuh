// StyleForge kernels: shared helpers (cp.async, type conversion, reductions).
// Every kernel is plain CUDA C++ (sm_80+): compiled by NVRTC or nvcc, no host code.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <mma.h>

#define SF_DEVICE __device__ __forceinline__

namespace sf {

SF_DEVICE float to_float(float v) { return v; }
SF_DEVICE float to_float(__half v) { return __half2float(v); }
SF_DEVICE float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> SF_DEVICE T from_float(float v);
template <> SF_DEVICE float from_float<float>(float v) { return v; }
template <> SF_DEVICE __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> SF_DEVICE __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

SF_DEVICE unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// 16-byte asynchronous copy global -> shared; src_bytes = 0 zero-fills the destination.
SF_DEVICE void cp_async16(void* smem, const void* gmem, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem), "r"(src_bytes));
}
SF_DEVICE void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> SF_DEVICE void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

SF_DEVICE float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Block-wide sum; every thread gets the result. `scratch` holds >= 32 floats.
SF_DEVICE float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float t = (threadIdx.x < nw) ? scratch[threadIdx.x] : 0.f;
  if (warp == 0) {
    t = warp_sum(t);
    if (lane == 0) scratch[0] = t;
  }
  __syncthreads();
  float r = scratch[0];
  __syncthreads();
  return r;
}

// fp32 → (hi, lo) TF32 pair with a ≈ hi + lo, for error-compensated "3xTF32" products.
template <typename Frag> SF_DEVICE void tf32_split(Frag& hi, Frag& lo) {
#pragma unroll
  for (int i = 0; i < hi.num_elements; ++i) {
    float v = hi.x[i];
    float h = nvcuda::wmma::__float_to_tf32(v);
    hi.x[i] = h;
    lo.x[i] = nvcuda::wmma::__float_to_tf32(v - h);
  }
}

}  // namespace sf
