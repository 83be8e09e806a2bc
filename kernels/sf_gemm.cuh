// 64x64-tile fp32 GEMM core on tensor cores (TF32, optionally error-compensated "3xTF32"), used by
// the Newton–Schulz iterations, the whitening–colouring apply and the loss/Gram backward.
// C_tile = A (M x K, fp32, row-major, lda) * B (K x Ncols, type TB, row-major, ldb); 128 threads,
// 4 warps of 32x32. Out-of-range rows/columns are zero-filled, so any size works.
#pragma once
#include "sf_common.cuh"

namespace sf {
using namespace nvcuda;

constexpr int GT = 64, GK = 32, GLDA = GK + 4, GLDB = GT + 4;
typedef wmma::fragment<wmma::accumulator, 16, 16, 8, float> GAcc;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> GFragA;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> GFragB;

struct __align__(128) GemmSmem {
  float a[GT * GLDA];
  float b[GK * GLDB];
};


template <int PASSES, typename TB>
SF_DEVICE void gemm64(const float* __restrict__ A, long long lda, const TB* __restrict__ B, long long ldb, int M,
                      int Nc, int K, int row0, long long col0, GAcc (&acc)[2][2], GemmSmem& sm) {
  const int tid = threadIdx.x, warp = tid >> 5, wr = warp >> 1, wc = warp & 1;
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);
  for (int k0 = 0; k0 < K; k0 += GK) {
#pragma unroll 4
    for (int e = tid; e < GT * GK; e += 128) {
      const int r = e / GK, c = e % GK, gr = row0 + r, gc = k0 + c;
      sm.a[r * GLDA + c] = (gr < M && gc < K) ? A[(long long)gr * lda + gc] : 0.f;
    }
#pragma unroll 4
    for (int e = tid; e < GK * GT; e += 128) {
      const int r = e / GT, c = e % GT, gr = k0 + r;
      const long long gc = col0 + c;
      sm.b[r * GLDB + c] = (gr < K && gc < Nc) ? to_float(B[(long long)gr * ldb + gc]) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < GK; kk += 8) {
      GFragA a[2], al[2];
      GFragB b[2], bl[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        wmma::load_matrix_sync(a[i], sm.a + (wr * 32 + i * 16) * GLDA + kk, GLDA);
        tf32_split(a[i], al[i]);
      }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        wmma::load_matrix_sync(b[j], sm.b + kk * GLDB + wc * 32 + j * 16, GLDB);
        tf32_split(b[j], bl[j]);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          if (PASSES == 3) {
            wmma::mma_sync(acc[i][j], al[i], b[j], acc[i][j]);
            wmma::mma_sync(acc[i][j], a[i], bl[j], acc[i][j]);
          }
          wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
    }
    __syncthreads();
  }
}

// Hand each accumulator element to f(row, col, value); `scratch` holds 4 * 256 floats.
template <typename F>
SF_DEVICE void gemm64_epilogue(GAcc (&acc)[2][2], int row0, long long col0, float* scratch, F& f) {
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, wr = warp >> 1, wc = warp & 1;
  float* w = scratch + warp * 256;
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      wmma::store_matrix_sync(w, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32)
        f(row0 + wr * 32 + i * 16 + (e >> 4), col0 + wc * 32 + j * 16 + (e & 15), w[e]);
      __syncwarp();
    }
}

// Y[b] = blend * (scale * s_ptr * (A[b] X[b]) + bias[b]) + (1 - blend) * X[b]; A: C x C fp32, X, Y: C x N.
template <typename T> struct ApplyEpi {
  T* y; const T* x; const float* bias; float s, blend; int C; long long N;
  SF_DEVICE void operator()(int r, long long c, float v) const {
    if (r >= C || c >= N) return;
    float o = s * v + (bias ? bias[r] : 0.f);
    if (blend != 1.f) o = blend * o + (1.f - blend) * to_float(x[(long long)r * N + c]);
    y[(long long)r * N + c] = from_float<T>(o);
  }
};

template <typename T>
SF_DEVICE void apply_matrix(const float* __restrict__ A, long long a_bstride, const T* __restrict__ X, T* __restrict__ Y,
                            const float* __restrict__ bias, long long bias_bstride, const float* __restrict__ scale_ptr,
                            float scale, float blend, int C, long long N, long long x_bstride) {
  __shared__ GemmSmem sm;
  const int b = blockIdx.z, row0 = blockIdx.y * GT;
  const long long col0 = (long long)blockIdx.x * GT;
  GAcc acc[2][2];
  const T* xb = X + (long long)b * x_bstride;
  gemm64<3, T>(A + (long long)b * a_bstride, C, xb, N, C, N, C, row0, col0, acc, sm);
  ApplyEpi<T> f{Y + (long long)b * x_bstride, xb, bias ? bias + (long long)b * bias_bstride : nullptr,
                scale * (scale_ptr ? scale_ptr[0] : 1.f), blend, C, N};
  gemm64_epilogue(acc, row0, col0, sm.a, f);
}

// ---------------------------------------------------------------------------------------------------------
// 32x32-tile GEMM of square C x C fp32 matrices on the fp64 tensor cores (DMMA, sm_80+): fp32 operands
// widen exactly to fp64, so products are exact and sums are IEEE fp64, then the result rounds to fp32.
// Used by the Newton–Schulz iterations, whose products cancel heavily (Z grows like κ^{1/2}): TF32
// tensor cores, even error-compensated, truncate while accumulating and made the iteration drift.
constexpr int DT = 32, DK = 32, DLD = DK + 4;
struct __align__(128) GemmSmemD {
  double a[DT * DLD];
  double b[DK * DLD];
};
typedef wmma::fragment<wmma::accumulator, 8, 8, 4, double> DAcc;
typedef wmma::fragment<wmma::matrix_a, 8, 8, 4, double, wmma::row_major> DFragA;
typedef wmma::fragment<wmma::matrix_b, 8, 8, 4, double, wmma::row_major> DFragB;

// A_eff = a1 * A + a2 * A2 (A2 may be null), formed in fp64 while loading.
SF_DEVICE void gemm32_f64(const float* __restrict__ A, const float* __restrict__ A2, double a1, double a2,
                          const float* __restrict__ B, int C, int row0, int col0, DAcc (&acc)[2][2], GemmSmemD& sm) {
  const int tid = threadIdx.x, warp = tid >> 5, wr = warp >> 1, wc = warp & 1;
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0);
  for (int k0 = 0; k0 < C; k0 += DK) {
#pragma unroll
    for (int t = 0; t < (DT * DK) / 128; ++t) {
      const int e = tid + t * 128, r = e / DK, c = e % DK;
      const int ar = row0 + r, ac = k0 + c;
      double av = 0.0;
      if (ar < C && ac < C) {
        av = a1 * (double)A[(long long)ar * C + ac];
        if (A2 != nullptr) av += a2 * (double)A2[(long long)ar * C + ac];
      }
      sm.a[r * DLD + c] = av;
      const int br = k0 + r, bc = col0 + c;
      sm.b[r * DLD + c] = (br < C && bc < C) ? (double)B[(long long)br * C + bc] : 0.0;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < DK; kk += 4) {
      DFragA a[2];
      DFragB b[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], sm.a + (wr * 16 + i * 8) * DLD + kk, DLD);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], sm.b + kk * DLD + wc * 16 + j * 8, DLD);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
}

// out[r, c] = alpha * acc + diag * [r == c], rounded to fp32; scratch: >= 4 * 64 doubles.
SF_DEVICE void gemm32_f64_store(DAcc (&acc)[2][2], int row0, int col0, double* scratch, float* __restrict__ out,
                                int C, double alpha, double diag) {
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, wr = warp >> 1, wc = warp & 1;
  double* w = scratch + warp * 64;
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      wmma::store_matrix_sync(w, acc[i][j], 8, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 64; e += 32) {
        const int r = row0 + wr * 16 + i * 8 + (e >> 3), c = col0 + wc * 16 + j * 8 + (e & 7);
        if (r < C && c < C) out[(long long)r * C + c] = (float)(alpha * w[e] + (r == c ? diag : 0.0));
      }
      __syncwarp();
    }
}

}  // namespace sf

#define SF_APPLY(NAME, T)                                                                                         \
  extern "C" __global__ void __launch_bounds__(128)                                                                \
      NAME(const float* __restrict__ A, long long a_bstride, const T* __restrict__ X, T* __restrict__ Y,            \
           const float* __restrict__ bias, long long bias_bstride, const float* __restrict__ scale_ptr, float scale, \
           float blend, int C, long long N, long long x_bstride) {                                                  \
    sf::apply_matrix<T>(A, a_bstride, X, Y, bias, bias_bstride, scale_ptr, scale, blend, C, N, x_bstride);           \
  }
