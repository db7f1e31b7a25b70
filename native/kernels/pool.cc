// Max and average pooling (NHWC) and their gradients, matching tfjs-backend-cpu's semantics:
// max takes the first largest value in row-major window order; avg divides by in-bounds taps.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/pool_avx2.h"
#include "kernels/scratch.h"
#include "kernels/simd.h"
#include "kernels/threadpool.h"

namespace ringtree::kernels {
namespace {

// Windows that tile the input exactly: stride == window, no padding or dilation, out * window == in
// in both dimensions (a 2x2/2 pool on even sizes). Every input element is in exactly one window, so
// the gradient can be written in one pass with no zeroing and no scatter.
bool tiles_exactly(const ConvGeom& g) {
  return g.stride_h == g.f_h && g.stride_w == g.f_w && g.dil_h == 1 && g.dil_w == 1 && g.pad_top == 0 &&
         g.pad_left == 0 && g.out_h * g.f_h == g.in_h && g.out_w * g.f_w == g.in_w;
}

// One output row of a tiled max pool (image xb), recording positions when pos is not null. Same
// semantics as the generic loops: start at -inf / -1, the first strictly larger value wins.
RINGTREE_SIMD void max_pool_row_tiled(const float* __restrict xb, int in_w, int C, int fh, int fw, int oy, int out_w,
                                      float* __restrict y, int32_t* __restrict pos) {
  for (int ox = 0; ox < out_w; ++ox) {
    float* __restrict out = y + static_cast<long>(ox) * C;
    for (int c = 0; c < C; ++c) out[c] = -std::numeric_limits<float>::infinity();
    if (pos) {
      int32_t* __restrict p = pos + static_cast<long>(ox) * C;
      for (int c = 0; c < C; ++c) p[c] = -1;
      for (int fy = 0; fy < fh; ++fy)
        for (int fx = 0; fx < fw; ++fx) {
          const int32_t off = ((oy * fh + fy) * in_w + ox * fw + fx) * C;
          const float* __restrict xp = xb + off;
          for (int c = 0; c < C; ++c) {
            int32_t gt = -static_cast<int32_t>(xp[c] > out[c]);
            out[c] = xp[c] > out[c] ? xp[c] : out[c];
            p[c] = (gt & (off + c)) | (~gt & p[c]);
          }
        }
    } else {
      for (int fy = 0; fy < fh; ++fy)
        for (int fx = 0; fx < fw; ++fx) {
          const float* __restrict xp = xb + (static_cast<long>(oy * fh + fy) * in_w + ox * fw + fx) * C;
          for (int c = 0; c < C; ++c) out[c] = xp[c] > out[c] ? xp[c] : out[c];
        }
    }
  }
}

// One output row of the gradient of a tiled max pool from recorded positions: writes every element
// of the row's windows (dy where the position matches, else 0).
RINGTREE_SIMD void max_pool_grad_row_tiled(const float* __restrict dy, const int32_t* __restrict pos, int in_w, int C,
                                           int fh, int fw, int oy, int out_w, float* __restrict dxb) {
  for (int ox = 0; ox < out_w; ++ox) {
    const float* __restrict d = dy + static_cast<long>(ox) * C;
    const int32_t* __restrict p = pos + static_cast<long>(ox) * C;
    for (int fy = 0; fy < fh; ++fy)
      for (int fx = 0; fx < fw; ++fx) {
        const int32_t off = ((oy * fh + fy) * in_w + ox * fw + fx) * C;
        float* __restrict o = dxb + off;
        for (int c = 0; c < C; ++c) o[c] = p[c] == off + c ? d[c] : 0.f;
      }
  }
}

bool use_avx2(const ConvGeom& g) {
  static const bool ok = pool_avx2_ok();
  return ok && g.in_c % 8 == 0;
}

template <bool kPos>
void max_pool_tiled(const ConvGeom& g, const float* x, float* y, int32_t* pos) {
  const bool avx2 = use_avx2(g);
  parallel_for(g.batch * g.out_h, [&](int t) {
    const int b = t / g.out_h, oy = t % g.out_h;
    const long o = static_cast<long>(t) * g.out_w * g.in_c;
    const float* xb = x + static_cast<long>(b) * g.in_h * g.in_w * g.in_c;
    int32_t* p = kPos ? pos + o : nullptr;
    if (avx2) max_pool_row_tiled_avx2(xb, g.in_w, g.in_c, g.f_h, g.f_w, oy, g.out_w, y + o, p);
    else max_pool_row_tiled(xb, g.in_w, g.in_c, g.f_h, g.f_w, oy, g.out_w, y + o, p);
  });
}

}  // namespace

void max_pool(const ConvGeom& g, const float* x, float* y) {
  if (tiles_exactly(g)) return max_pool_tiled<false>(g, x, y, nullptr);
  parallel_for(g.batch * g.out_h, [&](int t) {
    const int C = g.in_c;  // local copy: loop bounds the vectorizer can trust
    int b = t / g.out_h, oy = t % g.out_h;
    const float* xb = x + static_cast<long>(b) * g.in_h * g.in_w * C;
    for (int ox = 0; ox < g.out_w; ++ox) {
      float* out = y + ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * C;
      for (int c = 0; c < C; ++c) out[c] = -std::numeric_limits<float>::infinity();
      for_each_tap(g, oy, ox, [&](long pixel, int, int) {
        const float* xp = xb + pixel * C;
        for (int c = 0; c < C; ++c) out[c] = xp[c] > out[c] ? xp[c] : out[c];
      });
    }
  });
}

void avg_pool(const ConvGeom& g, const float* x, float* y) {
  parallel_for(g.batch * g.out_h, [&](int t) {
    const int C = g.in_c;  // local copy: loop bounds the vectorizer can trust
    int b = t / g.out_h, oy = t % g.out_h;
    const float* xb = x + static_cast<long>(b) * g.in_h * g.in_w * C;
    float* sum = thread_scratch(0, static_cast<size_t>(C));
    for (int ox = 0; ox < g.out_w; ++ox) {
      float* out = y + ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * C;
      std::memset(sum, 0, sizeof(float) * C);
      int count = 0;
      for_each_tap(g, oy, ox, [&](long pixel, int, int) {
        const float* xp = xb + pixel * C;
        for (int c = 0; c < C; ++c) sum[c] += xp[c];
        ++count;
      });
      for (int c = 0; c < C; ++c) out[c] = sum[c] / static_cast<float>(count);
    }
  });
}

void max_pool_grad(const ConvGeom& g, const float* dy, const float* x, float* dx) {
  // Per window: pass 1 finds the max, pass 2 routes dy to the first tap (row-major) equal to it, which
  // is the tap tfjs picks (first strictly larger value); windows without a finite max get nothing.
  // Both passes are branch-free over channels so they vectorize.
  const int C = g.in_c;
  const long img = static_cast<long>(g.in_h) * g.in_w * C;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  parallel_for(g.batch, [&](int b) {
    const int C = g.in_c;  // local copy: loop bounds the vectorizer can trust
    float* dxb = dx + b * img;
    std::memset(dxb, 0, sizeof(float) * img);
    const float* xb = x + b * img;
    float* __restrict best = thread_scratch(0, static_cast<size_t>(C));
    int32_t* __restrict open = reinterpret_cast<int32_t*>(thread_scratch(1, static_cast<size_t>(C)));
    for (int oy = 0; oy < g.out_h; ++oy)
      for (int ox = 0; ox < g.out_w; ++ox) {
        const int y0 = oy * g.stride_h - g.pad_top, x0 = ox * g.stride_w - g.pad_left;
        for (int c = 0; c < C; ++c) best[c] = kNegInf;
        for (int fy = 0; fy < g.f_h; ++fy) {
          int iy = y0 + fy * g.dil_h;
          if (iy < 0 || iy >= g.in_h) continue;
          for (int fx = 0; fx < g.f_w; ++fx) {
            int ix = x0 + fx * g.dil_w;
            if (ix < 0 || ix >= g.in_w) continue;
            const float* __restrict xp = xb + (static_cast<long>(iy) * g.in_w + ix) * C;
            for (int c = 0; c < C; ++c) best[c] = xp[c] > best[c] ? xp[c] : best[c];
          }
        }
        for (int c = 0; c < C; ++c) open[c] = -static_cast<int32_t>(best[c] > kNegInf);
        const float* __restrict d = dy + ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * C;
        for (int fy = 0; fy < g.f_h; ++fy) {
          int iy = y0 + fy * g.dil_h;
          if (iy < 0 || iy >= g.in_h) continue;
          for (int fx = 0; fx < g.f_w; ++fx) {
            int ix = x0 + fx * g.dil_w;
            if (ix < 0 || ix >= g.in_w) continue;
            long off = (static_cast<long>(iy) * g.in_w + ix) * C;
            const float* __restrict xp = xb + off;
            float* __restrict dp = dxb + off;
            for (int c = 0; c < C; ++c) {
              uint32_t hit = (0u - static_cast<uint32_t>(xp[c] == best[c])) & static_cast<uint32_t>(open[c]);
              float cur = dp[c], sum = cur + d[c];
              uint32_t cb, sb;
              std::memcpy(&cb, &cur, 4);
              std::memcpy(&sb, &sum, 4);
              uint32_t r = (hit & sb) | (~hit & cb);
              std::memcpy(&dp[c], &r, 4);
              open[c] &= static_cast<int32_t>(~hit);
            }
          }
        }
      }
  });
}

void max_pool_with_positions(const ConvGeom& g, const float* x, float* y, int32_t* pos) {
  if (tiles_exactly(g)) return max_pool_tiled<true>(g, x, y, pos);
  parallel_for(g.batch * g.out_h, [&](int t) {
    const int C = g.in_c;
    int b = t / g.out_h, oy = t % g.out_h;
    const float* xb = x + static_cast<long>(b) * g.in_h * g.in_w * C;
    for (int ox = 0; ox < g.out_w; ++ox) {
      const long o = ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * C;
      float* __restrict out = y + o;
      int32_t* __restrict p = pos + o;
      for (int c = 0; c < C; ++c) { out[c] = -std::numeric_limits<float>::infinity(); p[c] = -1; }
      for_each_tap(g, oy, ox, [&](long pixel, int, int) {
        const int32_t off = static_cast<int32_t>(pixel * C);
        const float* __restrict xp = xb + off;
        for (int c = 0; c < C; ++c) {  // first strictly larger value wins, as in tfjs
          int32_t gt = -static_cast<int32_t>(xp[c] > out[c]);
          out[c] = xp[c] > out[c] ? xp[c] : out[c];
          p[c] = (gt & (off + c)) | (~gt & p[c]);
        }
      });
    }
  });
}

void max_pool_grad_from_positions(const ConvGeom& g, const float* dy, const int32_t* pos, float* dx) {
  const long img = static_cast<long>(g.in_h) * g.in_w * g.in_c;
  const long per = static_cast<long>(g.out_h) * g.out_w * g.in_c;
  if (tiles_exactly(g)) {
    const bool avx2 = use_avx2(g);
    parallel_for(g.batch * g.out_h, [&](int t) {
      const int b = t / g.out_h, oy = t % g.out_h;
      const long o = static_cast<long>(t) * g.out_w * g.in_c;
      if (avx2) max_pool_grad_row_tiled_avx2(dy + o, pos + o, g.in_w, g.in_c, g.f_h, g.f_w, oy, g.out_w, dx + b * img);
      else max_pool_grad_row_tiled(dy + o, pos + o, g.in_w, g.in_c, g.f_h, g.f_w, oy, g.out_w, dx + b * img);
    });
    return;
  }
  parallel_for(g.batch, [&](int b) {
    float* dxb = dx + b * img;
    std::memset(dxb, 0, sizeof(float) * img);
    const float* d = dy + b * per;
    const int32_t* p = pos + b * per;
    for (long i = 0; i < per; ++i)
      if (p[i] >= 0) dxb[p[i]] += d[i];
  });
}

void avg_pool_grad(const ConvGeom& g, const float* dy, float* dx) {
  const int C = g.in_c;
  const long img = static_cast<long>(g.in_h) * g.in_w * C;
  const float scale = 1.f / static_cast<float>(g.f_h * g.f_w);
  parallel_for(g.batch, [&](int b) {
    const int C = g.in_c;  // local copy: loop bounds the vectorizer can trust
    float* dxb = dx + b * img;
    std::memset(dxb, 0, sizeof(float) * img);
    for (int oy = 0; oy < g.out_h; ++oy)
      for (int ox = 0; ox < g.out_w; ++ox) {
        const float* d = dy + ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * C;
        for_each_tap(g, oy, ox, [&](long pixel, int, int) {
          float* xp = dxb + pixel * C;
          for (int c = 0; c < C; ++c) xp[c] += d[c] * scale;
        });
      }
  });
}

}  // namespace ringtree::kernels
