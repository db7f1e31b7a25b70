#include "kernels/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/scratch.h"
#include "kernels/threadpool.h"

#ifdef RINGTREE_HAVE_OPENBLAS
extern "C" {
enum RtCblasOrder { RtRowMajor = 101 };
enum RtCblasTranspose { RtNoTrans = 111, RtTrans = 112 };
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                 int ldb, float beta, float* c, int ldc);
void openblas_set_num_threads(int n);
}
#endif

namespace ringtree::kernels {

float* thread_scratch(int slot, size_t n) {
  thread_local Scratch s[4];
  return s[slot].get(n);
}

namespace {

// Portable 4x8 micro-kernel (plain C++, no FMA contraction: this file is built without -mfma).
constexpr int PMR = 4, PNR = 8;
void ukr_portable(int kc, const float* a, long ars, long acs, const float* b, long brs, float* c, long ldc,
                  bool accumulate, int m, int n) {
  float acc[PMR][PNR] = {};
  long off[PMR];
  for (int i = 0; i < PMR; ++i) off[i] = (i < m ? i : m - 1) * ars;
  for (int k = 0; k < kc; ++k) {
    for (int i = 0; i < PMR; ++i) {
      float av = a[off[i]];
      for (int j = 0; j < PNR; ++j) acc[i][j] += av * b[j];
    }
    a += acs;
    b += brs;
  }
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

constexpr int KC = 256;
constexpr int MC = 96;     // multiple of 6 and 4
constexpr int NC = 2048;   // multiple of 16 and 8

struct Impl {
  MicroKernelInfo own{PMR, PNR, ukr_portable, "portable-4x8"};
  MicroKernelInfo portable{PMR, PNR, ukr_portable, "portable-4x8"};
  bool use_blas = false;
  bool use_portable = false;
  Impl() {
    avx2_kernel(&own);
    const char* b = std::getenv("RINGTREE_BLAS");
    if (b && std::strcmp(b, "openblas") == 0) use_blas = have_openblas();
#ifdef RINGTREE_HAVE_OPENBLAS
    openblas_set_num_threads(1);  // our pool owns the threads
#endif
  }
  const MicroKernelInfo& kernel() const { return use_portable ? portable : own; }
};
Impl& impl() {
  static Impl i;
  return i;
}

void pack_a(int mc, int kc, const float* a, long rs, long cs, int mr, float* out) {
  for (int i0 = 0; i0 < mc; i0 += mr) {
    int m = std::min(mr, mc - i0);
    const float* src = a + i0 * rs;
    if (cs == 1 && m == mr) {
      for (int k = 0; k < kc; ++k)
        for (int i = 0; i < mr; ++i) out[k * mr + i] = src[i * rs + k];
    } else {
      for (int k = 0; k < kc; ++k) {
        int i = 0;
        for (; i < m; ++i) out[k * mr + i] = src[i * rs + k * cs];
        for (; i < mr; ++i) out[k * mr + i] = 0.f;
      }
    }
    out += mr * kc;
  }
}

void pack_b(int kc, int nc, const float* b, long rs, long cs, int nr, float* out) {
  for (int j0 = 0; j0 < nc; j0 += nr) {
    int n = std::min(nr, nc - j0);
    const float* src = b + j0 * cs;
    if (cs == 1 && n == nr) {
      for (int k = 0; k < kc; ++k)
        for (int j = 0; j < nr; ++j) out[k * nr + j] = src[k * rs + j];
    } else {
      for (int k = 0; k < kc; ++k) {
        int j = 0;
        for (; j < n; ++j) out[k * nr + j] = src[k * rs + j * cs];
        for (; j < nr; ++j) out[k * nr + j] = 0.f;
      }
    }
    out += nr * kc;
  }
}

// A read in place streams through memory with little reuse; the hardware prefetcher does not keep up
// with mr interleaved rows, so fetch the rows of a panel kAheadPanels ahead (prefetches never fault,
// so running past the end of A is harmless).
constexpr int kAheadPanels = 2;
inline void prefetch_rows(const float* p, long rs, int rows, int kc) {
  for (int i = 0; i < rows; ++i)
    for (int k = 0; k < kc; k += 16) __builtin_prefetch(p + i * rs + k, 0, 3);
}

void gemm_own(const MicroKernelInfo& uk, int M, int N, int K, MatView A, MatView B, float* C, long ldc,
              bool accumulate) {
  const int mr = uk.mr, nr = uk.nr;
  const int nc_max = std::min(NC, ((N + nr - 1) / nr) * nr);
  const int mc_max = std::min(MC, ((M + mr - 1) / mr) * mr);
  const int kc_max = std::min(KC, K);
  float* bp = thread_scratch(2, static_cast<size_t>(nc_max) * kc_max + 64);
  float* ap = thread_scratch(3, static_cast<size_t>(mc_max) * kc_max + 64);
  // Few column panels: each A panel is used only a few times, so read A in place instead of packing it
  // (same values in the same order: results are identical either way).
  const bool direct_a = N <= 4 * nr && (A.cs == 1 || A.rs == 1);
  // Few row panels: each B panel is used only a few times, so read B rows in place (full panels only).
  const bool direct_b = B.cs == 1 && M <= 2 * MC;
  if (K == 0) {
    if (!accumulate)
      for (int i = 0; i < M; ++i) std::memset(C + i * ldc, 0, sizeof(float) * N);
    return;
  }
  for (int jc = 0; jc < N; jc += NC) {
    int nc = std::min(NC, N - jc);
    for (int pc = 0; pc < K; pc += KC) {
      int kc = std::min(KC, K - pc);
      bool acc = accumulate || pc > 0;
      if (!direct_b) pack_b(kc, nc, B.p + pc * B.rs + jc * B.cs, B.rs, B.cs, nr, bp);
      for (int ic = 0; ic < M; ic += MC) {
        int mc = std::min(MC, M - ic);
        if (direct_a && !direct_b) {
          // A read in place, B packed: keep each A micro-panel in L1 across the (few) column panels.
          for (int ir = 0; ir < mc; ir += mr) {
            int m = std::min(mr, mc - ir);
            const float* apanel = A.p + (ic + ir) * A.rs + pc * A.cs;
            if (A.cs == 1) prefetch_rows(apanel + kAheadPanels * mr * A.rs, A.rs, mr, kc);
            for (int jr = 0; jr < nc; jr += nr) {
              uk.fn(kc, apanel, A.rs, A.cs, bp + static_cast<size_t>(jr / nr) * nr * kc, nr,
                    C + (ic + ir) * ldc + jc + jr, ldc, acc, m, std::min(nr, nc - jr));
            }
          }
          continue;
        }
        if (!direct_a) pack_a(mc, kc, A.p + ic * A.rs + pc * A.cs, A.rs, A.cs, mr, ap);
        for (int jr = 0; jr < nc; jr += nr) {
          int n = std::min(nr, nc - jr);
          const float* bpanel = bp + static_cast<size_t>(jr / nr) * nr * kc;
          long brs = nr;
          if (direct_b && n == nr) {
            bpanel = B.p + pc * B.rs + jc + jr;
            brs = B.rs;
          } else if (direct_b) {  // the last, partial panel is packed (zero-padded) on its own
            pack_b(kc, n, B.p + pc * B.rs + jc + jr, B.rs, 1, nr, bp);
            bpanel = bp;
          }
          for (int ir = 0; ir < mc; ir += mr) {
            int m = std::min(mr, mc - ir);
            float* ct = C + (ic + ir) * ldc + jc + jr;
            if (direct_a)
              uk.fn(kc, A.p + (ic + ir) * A.rs + pc * A.cs, A.rs, A.cs, bpanel, brs, ct, ldc, acc, m, n);
            else
              uk.fn(kc, ap + static_cast<size_t>(ir / mr) * mr * kc, 1, mr, bpanel, brs, ct, ldc, acc, m, n);
          }
        }
      }
    }
  }
}

#ifdef RINGTREE_HAVE_OPENBLAS
void gemm_blas(int M, int N, int K, MatView A, MatView B, float* C, long ldc, bool accumulate) {
  if (M == 0 || N == 0) return;
  int ta = A.cs == 1 ? RtNoTrans : RtTrans;
  int lda = static_cast<int>(A.cs == 1 ? A.rs : A.cs);
  int tb = B.cs == 1 ? RtNoTrans : RtTrans;
  int ldb = static_cast<int>(B.cs == 1 ? B.rs : B.cs);
  if (ta == RtNoTrans && lda < K) lda = std::max(K, 1);
  if (ta == RtTrans && lda < M) lda = std::max(M, 1);
  if (tb == RtNoTrans && ldb < N) ldb = std::max(N, 1);
  if (tb == RtTrans && ldb < K) ldb = std::max(K, 1);
  cblas_sgemm(RtRowMajor, ta, tb, M, N, K, 1.f, A.p, lda, B.p, ldb, accumulate ? 1.f : 0.f, C, static_cast<int>(ldc));
}
#endif

bool blas_ok(MatView A, MatView B) { return (A.cs == 1 || A.rs == 1) && (B.cs == 1 || B.rs == 1); }

}  // namespace

bool have_openblas() {
#ifdef RINGTREE_HAVE_OPENBLAS
  return true;
#else
  return false;
#endif
}

bool set_gemm_impl(int which) {
  Impl& s = impl();
  switch (which) {
    case 0: {
      const char* b = std::getenv("RINGTREE_BLAS");
      s.use_blas = b && std::strcmp(b, "openblas") == 0 && have_openblas();
      s.use_portable = false;
      return true;
    }
    case 1: s.use_blas = false; s.use_portable = false; return true;
    case 2: if (!have_openblas()) return false; s.use_blas = true; s.use_portable = false; return true;
    case 3: s.use_blas = false; s.use_portable = true; return true;
    default: return false;
  }
}

const char* gemm_name() {
  Impl& s = impl();
  if (s.use_blas) return "openblas";
  return s.kernel().name;
}

void sgemm_serial(int M, int N, int K, MatView A, MatView B, float* C, long ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  Impl& s = impl();
#ifdef RINGTREE_HAVE_OPENBLAS
  if (s.use_blas && blas_ok(A, B)) return gemm_blas(M, N, K, A, B, C, ldc, accumulate);
#endif
  gemm_own(s.kernel(), M, N, K, A, B, C, ldc, accumulate);
}

void sgemm(int M, int N, int K, MatView A, MatView B, float* C, long ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  int nt = num_threads();
  double flops = 2.0 * M * N * K;
  if (nt <= 1 || flops < 2e5) return sgemm_serial(M, N, K, A, B, C, ldc, accumulate);
  const MicroKernelInfo& uk = impl().kernel();
  // Split the larger of M and N into nt pieces aligned to the register tile.
  if (N >= M && N >= 2 * uk.nr) {
    int tiles = (N + uk.nr - 1) / uk.nr;
    int parts = std::min(nt, tiles);
    parallel_for(parts, [&](int t) {
      int j0 = static_cast<int>(static_cast<long>(tiles) * t / parts) * uk.nr;
      int j1 = std::min(N, static_cast<int>(static_cast<long>(tiles) * (t + 1) / parts) * uk.nr);
      if (j1 > j0) sgemm_serial(M, j1 - j0, K, A, {B.p + j0 * B.cs, B.rs, B.cs}, C + j0, ldc, accumulate);
    });
  } else if (M >= 2 * uk.mr) {
    int tiles = (M + uk.mr - 1) / uk.mr;
    int parts = std::min(nt, tiles);
    parallel_for(parts, [&](int t) {
      int i0 = static_cast<int>(static_cast<long>(tiles) * t / parts) * uk.mr;
      int i1 = std::min(M, static_cast<int>(static_cast<long>(tiles) * (t + 1) / parts) * uk.mr);
      if (i1 > i0) sgemm_serial(i1 - i0, N, K, {A.p + i0 * A.rs, A.rs, A.cs}, B, C + i0 * ldc, ldc, accumulate);
    });
  } else {
    sgemm_serial(M, N, K, A, B, C, ldc, accumulate);
  }
}

}  // namespace ringtree::kernels
