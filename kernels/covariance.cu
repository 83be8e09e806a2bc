// Fused covariance / Gram matrix of batched feature maps X (B x C x N, row-major, N contiguous).
//
//   out[b] = scale * (X Xᵀ - [centre] * s sᵀ / N),   s = row sums of X[b]   (one pass over X)
//
// fp32 / fp16 / bf16 in, fp32 accumulate and out. Tensor cores through WMMA: fp16/bf16 operands are
// exact in their products; fp32 operands use TF32 with an error-compensating split (a = hi + lo,
// a·b ≈ hi·hi + hi·lo + lo·hi: "3xTF32", close to fp32 accuracy) or, with PASSES = 1, plain TF32.
// Symmetry: only tiles (ti <= tj) of the C x C output are computed (inside diagonal tiles, warp tiles
// wholly below the diagonal are skipped); sf_cov_finalize mirrors the upper triangle.
// Split-N: grid.y blocks share one output tile over disjoint column chunks of X and reduce into the
// fp32 workspace (in `replicas` copies) with atomics, so C = 512, N = 1024 still fills the GPU, and C <= 128 with large N streams
// X exactly once. Launch order: sf_zero_f32(ws, rowsum) -> sf_cov_accum_* -> sf_cov_finalize.
#include "sf_common.cuh"

using namespace nvcuda;

namespace sf {

template <typename T> struct MmaTraits;
template <> struct MmaTraits<float> {
  static constexpr int K = 8, BK = 32, PAD = 4;
  typedef wmma::precision::tf32 E;
};
template <> struct MmaTraits<__half> {
  static constexpr int K = 16, BK = 64, PAD = 8;
  typedef __half E;
};
template <> struct MmaTraits<__nv_bfloat16> {
  static constexpr int K = 16, BK = 64, PAD = 8;
  typedef __nv_bfloat16 E;
};

template <typename Frag> SF_DEVICE void tf32_round(Frag& f) {
#pragma unroll
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = wmma::__float_to_tf32(f.x[i]);
}

constexpr int STAGES = 4;

SF_DEVICE float sum16(uint4 v, const float*) {
  return (__uint_as_float(v.x) + __uint_as_float(v.y)) + (__uint_as_float(v.z) + __uint_as_float(v.w));
}
template <typename H2> SF_DEVICE float sum_h2(unsigned u);
template <> SF_DEVICE float sum_h2<__half2>(unsigned u) {
  const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&u));
  return f.x + f.y;
}
template <> SF_DEVICE float sum_h2<__nv_bfloat162>(unsigned u) {
  const float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u));
  return f.x + f.y;
}
SF_DEVICE float sum16(uint4 v, const __half*) {
  return (sum_h2<__half2>(v.x) + sum_h2<__half2>(v.y)) + (sum_h2<__half2>(v.z) + sum_h2<__half2>(v.w));
}
SF_DEVICE float sum16(uint4 v, const __nv_bfloat16*) {
  return (sum_h2<__nv_bfloat162>(v.x) + sum_h2<__nv_bfloat162>(v.y)) +
         (sum_h2<__nv_bfloat162>(v.z) + sum_h2<__nv_bfloat162>(v.w));
}

template <typename T, int BM, int NW, int PASSES>
SF_DEVICE void cov_accum(const T* __restrict__ x, float* __restrict__ ws, float* __restrict__ rowsum, int C,
                         long long N, long long chunk, int nt, long long bstride, int replicas, int B) {
  typedef MmaTraits<T> TR;
  constexpr int BK = TR::BK, KK = TR::K, LD = BK + TR::PAD;
  constexpr int NT = NW * 32, WC = NW / 2, WM = BM / 2, WN = BM / WC, FM = WM / 16, FN = WN / 16;
  constexpr int VEC = 16 / sizeof(T), VPR = BK / VEC;  // 16-byte vectors per tile row
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* smem = reinterpret_cast<T*>(smem_raw);

  // triangle tile index -> (ti, tj), ti <= tj
  int t = blockIdx.x, ti = 0;
  while (t >= nt - ti) { t -= nt - ti; ++ti; }
  const int tj = ti + t;
  const bool diag = (ti == tj);
  const int b = blockIdx.z;
  const long long k_begin = (long long)blockIdx.y * chunk;
  const long long k_end = min(N, k_begin + chunk);
  if (k_begin >= k_end) return;
  const int nk = (int)((k_end - k_begin + BK - 1) / BK);
  const T* xb = x + (long long)b * bstride;
  const int row_a = ti * BM, row_b = tj * BM;
  const int nops = (nt > 1) ? 2 : 1;
  const int tid = threadIdx.x, warp = tid >> 5, wr = warp / WC, wc = warp % WC;
  const bool active = !(diag && wr * WM >= (wc + 1) * WN);  // warp tile wholly below the diagonal

  auto stage_ptr = [&](int s, int op) { return smem + ((long long)(s * nops + op) * BM * LD); };
  auto load_stage = [&](int s, long long k0) {
    for (int op = 0; op < (diag ? 1 : 2); ++op) {
      T* dst = stage_ptr(s, op);
      const int r0 = op ? row_b : row_a;
#pragma unroll
      for (int e = tid; e < BM * VPR; e += NT) {
        const int r = e / VPR, v = e % VPR;
        const int g = r0 + r;
        const long long col = k0 + (long long)v * VEC;
        const bool ok = (g < C) && (col < k_end);
        const T* src = ok ? (xb + (long long)g * N + col) : xb;
        cp_async16(dst + r * LD + v * VEC, src, ok ? 16 : 0);
      }
    }
  };

  // acc: tensor-core accumulator, emptied into tot (IEEE fp32 adds) after every k-tile; tensor cores
  // truncate when they accumulate, so long accumulations in them drift low (seen: 3e-4 at N = 2^18).
  wmma::fragment<wmma::accumulator, 16, 16, KK, float> acc[FM][FN], tot[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::fill_fragment(acc[i][j], 0.f);
      wmma::fill_fragment(tot[i][j], 0.f);
    }

  const bool do_rs = (rowsum != nullptr) && diag;
  constexpr int TPR = NT / BM;  // threads per row for the row sums
  float rs = 0.f;

#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < nk) load_stage(s, k_begin + (long long)s * BK);
    cp_async_commit();
  }
  for (int kt = 0; kt < nk; ++kt) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();
    {
      const int nxt = kt + STAGES - 1;
      if (nxt < nk) load_stage(nxt % STAGES, k_begin + (long long)nxt * BK);
      cp_async_commit();
    }
    const int s = kt % STAGES;
    const T* sa = stage_ptr(s, 0);
    const T* sb = diag ? sa : stage_ptr(s, 1);
    if (do_rs) {  // row sums from shared memory, 16-byte loads
      const int r = tid / TPR, part = tid % TPR;
      const uint4* p = reinterpret_cast<const uint4*>(sa + r * LD + part * (BK / TPR));
#pragma unroll
      for (int c = 0; c < (BK / TPR) / VEC; ++c) rs += sum16(p[c], (const T*)nullptr);
    }
    if (active) {
#pragma unroll
      for (int kk = 0; kk < BK; kk += KK) {
        wmma::fragment<wmma::matrix_a, 16, 16, KK, typename TR::E, wmma::row_major> a[FM], al[FM];
        wmma::fragment<wmma::matrix_b, 16, 16, KK, typename TR::E, wmma::col_major> bf[FN], bl[FN];
#pragma unroll
        for (int i = 0; i < FM; ++i) wmma::load_matrix_sync(a[i], sa + (wr * WM + i * 16) * LD + kk, LD);
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::load_matrix_sync(bf[j], sb + (wc * WN + j * 16) * LD + kk, LD);
        if constexpr (sizeof(T) == 4) {
          if constexpr (PASSES == 3) {
#pragma unroll
            for (int i = 0; i < FM; ++i) tf32_split(a[i], al[i]);
#pragma unroll
            for (int j = 0; j < FN; ++j) tf32_split(bf[j], bl[j]);
#pragma unroll
            for (int i = 0; i < FM; ++i)
#pragma unroll
              for (int j = 0; j < FN; ++j) {
                wmma::mma_sync(acc[i][j], al[i], bf[j], acc[i][j]);
                wmma::mma_sync(acc[i][j], a[i], bl[j], acc[i][j]);
              }
          } else {
#pragma unroll
            for (int i = 0; i < FM; ++i) tf32_round(a[i]);
#pragma unroll
            for (int j = 0; j < FN; ++j) tf32_round(bf[j]);
          }
        }
#pragma unroll
        for (int i = 0; i < FM; ++i)
#pragma unroll
          for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], a[i], bf[j], acc[i][j]);
      }
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j)
#pragma unroll
          for (int e = 0; e < acc[i][j].num_elements; ++e) {
            tot[i][j].x[e] += acc[i][j].x[e];
            acc[i][j].x[e] = 0.f;
          }
    }
  }
  cp_async_wait<0>();
  __syncthreads();

  if (do_rs) {
    const int r = tid / TPR;
    // reduce the TPR partials of a row (adjacent lanes) before one atomic per row
#pragma unroll
    for (int o = TPR / 2; o > 0; o >>= 1) rs += __shfl_down_sync(0xffffffffu, rs, o, TPR);
    if ((tid % TPR) == 0 && row_a + r < C) atomicAdd(rowsum + (long long)b * C + row_a + r, rs);
  }
  if (!active) return;
  float* scratch = reinterpret_cast<float*>(smem_raw) + warp * 256;
  const int lane = tid & 31;
  // replicas spread the split-N atomics over several copies of the output (less same-address contention)
  float* wsb = ws + ((long long)(blockIdx.y % replicas) * B + b) * C * C;
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::store_matrix_sync(scratch, tot[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const int gr = row_a + wr * WM + i * 16 + (e >> 4);
        const int gc = row_b + wc * WN + j * 16 + (e & 15);
        if (gr < C && gc < C && (!diag || gr <= gc)) atomicAdd(wsb + (long long)gr * C + gc, scratch[e]);
      }
      __syncwarp();
    }
}

}  // namespace sf

#define SF_COV_ACCUM(NAME, T, BM, NW, P)                                                                     \
  extern "C" __global__ void __launch_bounds__(NW * 32, (BM == 64 ? 4 : 1))                                 \
      NAME(const T* __restrict__ x, float* __restrict__ ws, float* __restrict__ rowsum, int C, long long N, \
           long long chunk, int nt, long long bstride, int replicas, int B) {                               \
    sf::cov_accum<T, BM, NW, P>(x, ws, rowsum, C, N, chunk, nt, bstride, replicas, B);                       \
  }

SF_COV_ACCUM(sf_cov_accum_f32_bm64_p3, float, 64, 4, 3)
SF_COV_ACCUM(sf_cov_accum_f32_bm128_p3, float, 128, 8, 3)
SF_COV_ACCUM(sf_cov_accum_f32_bm64_p1, float, 64, 4, 1)
SF_COV_ACCUM(sf_cov_accum_f32_bm128_p1, float, 128, 8, 1)
SF_COV_ACCUM(sf_cov_accum_f16_bm64_p1, __half, 64, 4, 1)
SF_COV_ACCUM(sf_cov_accum_f16_bm128_p1, __half, 128, 8, 1)
SF_COV_ACCUM(sf_cov_accum_bf16_bm64_p1, __nv_bfloat16, 64, 4, 1)
SF_COV_ACCUM(sf_cov_accum_bf16_bm128_p1, __nv_bfloat16, 128, 8, 1)

extern "C" __global__ void sf_zero_f32(float* __restrict__ p, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    p[i] = 0.f;
}

// out[b,i,j] = scale * (Σ_r ws[r,b,min(i,j),max(i,j)] - centre * s_i s_j / N); mean[b,i] = s_i / N (if mean != null)
extern "C" __global__ void sf_cov_finalize(const float* __restrict__ ws, const float* __restrict__ rowsum,
                                           float* __restrict__ out, float* __restrict__ mean, int B, int C,
                                           long long N, float scale, int centre, int replicas) {
  const long long total = (long long)B * C * C;
  const float invn = 1.f / (float)N;
  for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
       idx += (long long)gridDim.x * blockDim.x) {
    const int b = (int)(idx / ((long long)C * C));
    const int rem = (int)(idx % ((long long)C * C));
    const int i = rem / C, j = rem % C;
    const int lo = min(i, j), hi = max(i, j);
    float v = 0.f;
    for (int r = 0; r < replicas; ++r) v += ws[((long long)r * B + b) * C * C + (long long)lo * C + hi];
    if (centre) v -= rowsum[(long long)b * C + i] * rowsum[(long long)b * C + j] * invn;
    out[idx] = v * scale;
    if (mean != nullptr && j == 0) mean[(long long)b * C + i] = rowsum[(long long)b * C + i] * invn;
  }
}
