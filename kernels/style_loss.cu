// Fused style loss and its gradient.
//   forward, per layer:  G = X Xᵀ / (C·N)  (covariance.cu, no centring),  D = G - (G* + G*ᵀ)/2  (G* broadcast over the
//   batch when its batch is 1),  loss += w / (B·C²) · Σ D²   (block reduction + one atomic per block; the
//   scalar stays on the device: no host synchronisation).
//   backward:  dL/dX = g · 4 w / (B·C²) / (C·N) · D X   with g = dL/dloss read from device memory
//   (sf_apply_* below, the same tensor-core GEMM as the whitening–colouring apply).
// The Gram backward (dL/dX = (dG + dGᵀ) X / (C·N)) uses the same apply kernels.
#include "sf_gemm.cuh"

extern "C" __global__ void sf_style_diff(const float* __restrict__ G, const float* __restrict__ Tg,
                                         long long t_bstride, float* __restrict__ D, float* __restrict__ loss,
                                         float coef, int B, int C) {
  __shared__ float scratch[32];
  const long long cc = (long long)C * C, total = (long long)B * cc;
  float acc = 0.f;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long b = i / cc, r = i % cc;
    const long long rt = (r % C) * C + r / C;  // transposed position
    const float t = Tg[b * t_bstride + r];
    const float d = G[i] - t;
    D[i] = G[i] - 0.5f * (t + Tg[b * t_bstride + rt]);  // symmetric part: what dL/dF needs
    acc += d * d;
  }
  acc = sf::block_sum(acc, scratch);
  if (threadIdx.x == 0) atomicAdd(loss, coef * acc);
}

SF_APPLY(sf_apply_f32, float)
SF_APPLY(sf_apply_f16, __half)
SF_APPLY(sf_apply_bf16, __nv_bfloat16)
