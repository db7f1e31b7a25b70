// AVX2/FMA 6x16 micro-kernel: 12 ymm accumulators, 2 B loads and 6 A broadcasts per k.
// Compiled with -mavx2 -mfma; only called when __builtin_cpu_supports says the CPU has both.
#include "kernels/gemm.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace ringtree::kernels {
namespace {

constexpr int MR = 6, NR = 16;

void ukr_6x16(int kc, const float* a, long ars, long acs, const float* b, long brs, float* c, long ldc, bool accumulate,
              int m, int n) {
  const long o1 = (m > 1 ? 1 : 0) * ars, o2 = (m > 2 ? 2 : m - 1) * ars, o3 = (m > 3 ? 3 : m - 1) * ars;
  const long o4 = (m > 4 ? 4 : m - 1) * ars, o5 = (m > 5 ? 5 : m - 1) * ars;
  // the C tile is read (accumulate) or written at the end: start fetching it now
  for (int i = 0; i < m; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 15), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 av;
    av = _mm256_broadcast_ss(a); c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + o1); c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + o2); c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + o3); c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + o4); c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + o5); c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
    a += acs;
    b += brs;
  }
  if (m == MR && n == NR) {
    float* r = c;
#define RT_STORE(x0, x1)                                                              \
  if (accumulate) {                                                                   \
    x0 = _mm256_add_ps(_mm256_loadu_ps(r), x0);                                       \
    x1 = _mm256_add_ps(_mm256_loadu_ps(r + 8), x1);                                   \
  }                                                                                   \
  _mm256_storeu_ps(r, x0);                                                            \
  _mm256_storeu_ps(r + 8, x1);                                                        \
  r += ldc;
    RT_STORE(c00, c01) RT_STORE(c10, c11) RT_STORE(c20, c21) RT_STORE(c30, c31) RT_STORE(c40, c41) RT_STORE(c50, c51)
#undef RT_STORE
    return;
  }
  alignas(32) float t[MR * NR];
  _mm256_store_ps(t + 0 * NR, c00); _mm256_store_ps(t + 0 * NR + 8, c01);
  _mm256_store_ps(t + 1 * NR, c10); _mm256_store_ps(t + 1 * NR + 8, c11);
  _mm256_store_ps(t + 2 * NR, c20); _mm256_store_ps(t + 2 * NR + 8, c21);
  _mm256_store_ps(t + 3 * NR, c30); _mm256_store_ps(t + 3 * NR + 8, c31);
  _mm256_store_ps(t + 4 * NR, c40); _mm256_store_ps(t + 4 * NR + 8, c41);
  _mm256_store_ps(t + 5 * NR, c50); _mm256_store_ps(t + 5 * NR + 8, c51);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + t[i * NR + j] : t[i * NR + j];
}

}  // namespace

bool avx2_kernel(MicroKernelInfo* out) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
  *out = {MR, NR, ukr_6x16, "avx2-fma-6x16"};
  return true;
}

}  // namespace ringtree::kernels
#else
namespace ringtree::kernels {
bool avx2_kernel(MicroKernelInfo*) { return false; }
}  // namespace ringtree::kernels
#endif
