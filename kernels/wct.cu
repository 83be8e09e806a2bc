// Whitening–colouring transform (Li et al. 2017) without eigendecomposition and without host sync:
//   Σc, μc, Σs, μs          covariance.cu (centred, 1/(N-1))
//   sf_ns_init               A = (Σ + rI) / ‖Σ + rI‖_F, r = reg·tr(Σ)/C (relative; content: reg_c, style: reg_s),
//                            Y0 = A, Z0 = I; norms and ridges kept on the device
//   k x (sf_ns_step1, 2)     T = (3I - Z Y)/2;  Y <- Y T;  Z <- T Z      (coupled Newton–Schulz; fp32 storage,
//                            products on the fp64 tensor cores: exact products, IEEE sums)
//                            Y -> A^{1/2}, Z -> A^{-1/2}; content and style matrices iterate in one launch
//   sf_wct_matrix            M = Σs (Σs + r_s)^{-1/2} (Σc + r_c)^{-1/2} = (√ns Ys − r_s/√ns Zs) Zc / √nc
//                            (train/wct/transforms.py's policy: relative ridges, no absolute floor)
//   sf_wct_bias              β = μs - M μc
//   sf_apply_*               out = α (M fc + β) + (1 - α) fc     (= α (M (fc - μc) + μs) + (1 - α) fc)
// Matrices: YZ holds [Y_0 … Y_{M-1}, Z_0 … Z_{M-1}] (C x C each, M = Bc + Bs: content first, then style).
#include "sf_gemm.cuh"

extern "C" __global__ void __launch_bounds__(1024) sf_ns_init(const float* __restrict__ cov, float* __restrict__ YZ,
                                                              float* __restrict__ norms, int M, int C, float reg_c,
                                                              float reg_s, int Bc) {
  // relative ridge r = reg * tr(Σ) / C (reg_c for the Bc content matrices, reg_s for the style ones),
  // as train/wct/transforms.py; norms[m] = ‖Σ + rI‖_F, norms[M + m] = r.
  __shared__ float scratch[32];
  const int m = blockIdx.x;
  const long long cc = (long long)C * C;
  const float* s = cov + m * cc;
  float tr = 0.f;
  for (int i = threadIdx.x; i < C; i += blockDim.x) tr += s[(long long)i * C + i];
  const float ridge = (m < Bc ? reg_c : reg_s) * sf::block_sum(tr, scratch) / (float)C;
  float acc = 0.f;
  for (long long i = threadIdx.x; i < cc; i += blockDim.x) {
    float v = s[i] + ((i / C) == (i % C) ? ridge : 0.f);
    acc += v * v;
  }
  const float nrm = fmaxf(sqrtf(sf::block_sum(acc, scratch)), 1e-30f);
  const float inv = 1.f / nrm;
  float* Y = YZ + m * cc;
  float* Z = YZ + ((long long)M + m) * cc;
  for (long long i = threadIdx.x; i < cc; i += blockDim.x) {
    const bool d = (i / C) == (i % C);
    Y[i] = (s[i] + (d ? ridge : 0.f)) * inv;
    Z[i] = d ? 1.f : 0.f;
  }
  if (threadIdx.x == 0) {
    norms[m] = nrm;
    norms[M + m] = ridge;
  }
}

// T[m] = 1.5 I - 0.5 Z[m] Y[m];  grid (tiles, tiles, M), tiles = ceil(C / 32), 128 threads
extern "C" __global__ void __launch_bounds__(128, 4) sf_ns_step1(const float* __restrict__ YZ, float* __restrict__ Tm,
                                                              int M, int C) {
  __shared__ sf::GemmSmemD sm;
  const int m = blockIdx.z, row0 = blockIdx.y * sf::DT, col0 = blockIdx.x * sf::DT;
  const long long cc = (long long)C * C;
  sf::DAcc acc[2][2];
  sf::gemm32_f64(YZ + ((long long)M + m) * cc, nullptr, 1.0, 0.0, YZ + m * cc, C, row0, col0, acc, sm);
  sf::gemm32_f64_store(acc, row0, col0, sm.a, Tm + m * cc, C, -0.5, 1.5);
}

// z < M: Y'[z] = Y[z] T[z];  z >= M: Z'[z-M] = T[z-M] Z[z-M];  grid (tiles, tiles, 2M)
extern "C" __global__ void __launch_bounds__(128, 4) sf_ns_step2(const float* __restrict__ YZ, const float* __restrict__ Tm,
                                                              float* __restrict__ YZn, int M, int C) {
  __shared__ sf::GemmSmemD sm;
  const int z = blockIdx.z, row0 = blockIdx.y * sf::DT, col0 = blockIdx.x * sf::DT;
  const long long cc = (long long)C * C;
  const float* A = (z < M) ? YZ + z * cc : Tm + (z - M) * cc;
  const float* B = (z < M) ? Tm + z * cc : YZ + z * cc;
  sf::DAcc acc[2][2];
  sf::gemm32_f64(A, nullptr, 1.0, 0.0, B, C, row0, col0, acc, sm);
  sf::gemm32_f64_store(acc, row0, col0, sm.a, YZn + z * cc, C, 1.0, 0.0);
}

// Mout[b] = colour_s · (Σc + r_c)^{-1/2},  colour_s = Σs (Σs + r_s)^{-1/2} = √n_s Y_s − (r_s/√n_s) Z_s,
// (Σc + r_c)^{-1/2} = Z_c / √n_c;  s = Bc + (Bs == Bc ? b : 0);  grid (tiles, tiles, Bc)
extern "C" __global__ void __launch_bounds__(128, 4) sf_wct_matrix(const float* __restrict__ YZ, const float* __restrict__ norms,
                                                                   float* __restrict__ Mout, int Bc, int Bs, int C) {
  __shared__ sf::GemmSmemD sm;
  const int b = blockIdx.z, row0 = blockIdx.y * sf::DT, col0 = blockIdx.x * sf::DT;
  const int M = Bc + Bs, s = Bc + (Bs == Bc ? b : 0);
  const long long cc = (long long)C * C;
  const double nc = norms[b], ns = norms[s], rs = norms[M + s];
  const double a1 = (nc > 0.0) ? sqrt(ns / nc) : 0.0;
  const double a2 = (nc > 0.0 && ns > 0.0) ? -rs / sqrt(ns * nc) : 0.0;
  sf::DAcc acc[2][2];
  sf::gemm32_f64(YZ + s * cc, YZ + ((long long)M + s) * cc, a1, a2, YZ + ((long long)M + b) * cc, C, row0, col0, acc, sm);
  sf::gemm32_f64_store(acc, row0, col0, sm.a, Mout + b * cc, C, 1.0, 0.0);
}

// bias[b, i] = mu_s[s, i] - Σ_j M[b, i, j] mu_c[b, j]; one warp per row; grid (ceil(C / 8), Bc), 256 threads
extern "C" __global__ void sf_wct_bias(const float* __restrict__ Mm, const float* __restrict__ mu_c,
                                       const float* __restrict__ mu_s, float* __restrict__ bias, int Bc, int Bs, int C) {
  const int b = blockIdx.y, row = blockIdx.x * 8 + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (row >= C) return;
  const int s = (Bs == Bc) ? b : 0;
  const float* m = Mm + ((long long)b * C + row) * C;
  const float* mc = mu_c + (long long)b * C;
  float acc = 0.f;
  for (int j = lane; j < C; j += 32) acc += m[j] * mc[j];
  acc = sf::warp_sum(acc);
  if (lane == 0) bias[(long long)b * C + row] = mu_s[(long long)s * C + row] - acc;
}

SF_APPLY(sf_wct_apply_f32, float)
SF_APPLY(sf_wct_apply_f16, __half)
SF_APPLY(sf_wct_apply_bf16, __nv_bfloat16)
