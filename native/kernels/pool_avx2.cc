// AVX2 rows of max pools whose windows tile the input exactly (pool.cc decides), for channel counts
// that are a multiple of 8. Compiled with -mavx2; pool.cc calls these only after pool_avx2_ok() said
// the CPU has AVX2. Same semantics as the scalar loops: start at -inf / -1 and keep the first
// strictly larger value (a NaN is never taken), so results are identical bit for bit.
#include "kernels/pool_avx2.h"

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>

#include <limits>

namespace ringtree::kernels {

bool pool_avx2_ok() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

void max_pool_row_tiled_avx2(const float* xb, int in_w, int C, int fh, int fw, int oy, int out_w, float* y,
                             int32_t* pos) {
  const __m256 neg_inf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int ox = 0; ox < out_w; ++ox) {
    for (int c = 0; c < C; c += 8) {
      __m256 best = neg_inf;
      __m256 p = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
      for (int fy = 0; fy < fh; ++fy)
        for (int fx = 0; fx < fw; ++fx) {
          const int32_t off = ((oy * fh + fy) * in_w + ox * fw + fx) * C + c;
          const __m256 v = _mm256_loadu_ps(xb + off);
          if (pos) {
            const __m256 gt = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
            best = _mm256_blendv_ps(best, v, gt);
            p = _mm256_blendv_ps(p, _mm256_castsi256_ps(_mm256_add_epi32(_mm256_set1_epi32(off), iota)), gt);
          } else {
            best = _mm256_max_ps(v, best);  // v > best ? v : best
          }
        }
      const long o = static_cast<long>(ox) * C + c;
      _mm256_storeu_ps(y + o, best);
      if (pos) _mm256_storeu_si256(reinterpret_cast<__m256i*>(pos + o), _mm256_castps_si256(p));
    }
  }
}

void max_pool_grad_row_tiled_avx2(const float* dy, const int32_t* pos, int in_w, int C, int fh, int fw, int oy,
                                  int out_w, float* dxb) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int ox = 0; ox < out_w; ++ox) {
    for (int c = 0; c < C; c += 8) {
      const long o = static_cast<long>(ox) * C + c;
      const __m256 d = _mm256_loadu_ps(dy + o);
      const __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pos + o));
      for (int fy = 0; fy < fh; ++fy)
        for (int fx = 0; fx < fw; ++fx) {
          const int32_t off = ((oy * fh + fy) * in_w + ox * fw + fx) * C + c;
          const __m256i hit = _mm256_cmpeq_epi32(p, _mm256_add_epi32(_mm256_set1_epi32(off), iota));
          _mm256_storeu_ps(dxb + off, _mm256_and_ps(_mm256_castsi256_ps(hit), d));
        }
    }
  }
}

}  // namespace ringtree::kernels
#else
namespace ringtree::kernels {
bool pool_avx2_ok() { return false; }
void max_pool_row_tiled_avx2(const float*, int, int, int, int, int, int, float*, int32_t*) {}
void max_pool_grad_row_tiled_avx2(const float*, const int32_t*, int, int, int, int, int, int, float*) {}
}  // namespace ringtree::kernels
#endif
