// Max and average pooling (NHWC) and their gradients, matching tfjs-backend-cpu's semantics:
// max takes the first largest value in row-major window order; avg divides by in-bounds taps.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/scratch.h"
#include "kernels/threadpool.h"

namespace ringtree::kernels {

void max_pool(const ConvGeom& g, const float* x, float* y) {
  const int C = g.in_c;
  parallel_for(g.batch * g.out_h, [&](int t) {
    int b = t / g.out_h, oy = t % g.out_h;
    const float* xb = x + static_cast<long>(b) * g.in_h * g.in_w * C;
    for (int ox = 0; ox < g.out_w; ++ox) {
      float* out = y + ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * C;
      for (int c = 0; c < C; ++c) out[c] = -std::numeric_limits<float>::infinity();
      for (int fy = 0; fy < g.f_h; ++fy) {
        int iy = oy * g.stride_h - g.pad_top + fy * g.dil_h;
        if (iy < 0 || iy >= g.in_h) continue;
        for (int fx = 0; fx < g.f_w; ++fx) {
          int ix = ox * g.stride_w - g.pad_left + fx * g.dil_w;
          if (ix < 0 || ix >= g.in_w) continue;
          const float* xp = xb + (static_cast<long>(iy) * g.in_w + ix) * C;
          for (int c = 0; c < C; ++c) out[c] = xp[c] > out[c] ? xp[c] : out[c];
        }
      }
    }
  });
}

void avg_pool(const ConvGeom& g, const float* x, float* y) {
  const int C = g.in_c;
  parallel_for(g.batch * g.out_h, [&](int t) {
    int b = t / g.out_h, oy = t % g.out_h;
    const float* xb = x + static_cast<long>(b) * g.in_h * g.in_w * C;
    float* sum = thread_scratch(0, static_cast<size_t>(C));
    for (int ox = 0; ox < g.out_w; ++ox) {
      float* out = y + ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * C;
      std::memset(sum, 0, sizeof(float) * C);
      int count = 0;
      for (int fy = 0; fy < g.f_h; ++fy) {
        int iy = oy * g.stride_h - g.pad_top + fy * g.dil_h;
        if (iy < 0 || iy >= g.in_h) continue;
        for (int fx = 0; fx < g.f_w; ++fx) {
          int ix = ox * g.stride_w - g.pad_left + fx * g.dil_w;
          if (ix < 0 || ix >= g.in_w) continue;
          const float* xp = xb + (static_cast<long>(iy) * g.in_w + ix) * C;
          for (int c = 0; c < C; ++c) sum[c] += xp[c];
          ++count;
        }
      }
      for (int c = 0; c < C; ++c) out[c] = sum[c] / static_cast<float>(count);
    }
  });
}

void max_pool_grad(const ConvGeom& g, const float* dy, const float* x, float* dx) {
  const int C = g.in_c;
  const long img = static_cast<long>(g.in_h) * g.in_w * C;
  parallel_for(g.batch, [&](int b) {
    float* dxb = dx + b * img;
    std::memset(dxb, 0, sizeof(float) * img);
    const float* xb = x + b * img;
    float* best = thread_scratch(0, static_cast<size_t>(C));
    long* pos = reinterpret_cast<long*>(thread_scratch(1, static_cast<size_t>(C) * 2));
    for (int oy = 0; oy < g.out_h; ++oy)
      for (int ox = 0; ox < g.out_w; ++ox) {
        for (int c = 0; c < C; ++c) { best[c] = -std::numeric_limits<float>::infinity(); pos[c] = -1; }
        for (int fy = 0; fy < g.f_h; ++fy) {
          int iy = oy * g.stride_h - g.pad_top + fy * g.dil_h;
          if (iy < 0 || iy >= g.in_h) continue;
          for (int fx = 0; fx < g.f_w; ++fx) {
            int ix = ox * g.stride_w - g.pad_left + fx * g.dil_w;
            if (ix < 0 || ix >= g.in_w) continue;
            long off = (static_cast<long>(iy) * g.in_w + ix) * C;
            const float* xp = xb + off;
            for (int c = 0; c < C; ++c)
              if (xp[c] > best[c]) { best[c] = xp[c]; pos[c] = off + c; }
          }
        }
        const float* d = dy + ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * C;
        for (int c = 0; c < C; ++c)
          if (pos[c] >= 0) dxb[pos[c]] += d[c];
      }
  });
}

void avg_pool_grad(const ConvGeom& g, const float* dy, float* dx) {
  const int C = g.in_c;
  const long img = static_cast<long>(g.in_h) * g.in_w * C;
  const float scale = 1.f / static_cast<float>(g.f_h * g.f_w);
  parallel_for(g.batch, [&](int b) {
    float* dxb = dx + b * img;
    std::memset(dxb, 0, sizeof(float) * img);
    for (int oy = 0; oy < g.out_h; ++oy)
      for (int ox = 0; ox < g.out_w; ++ox) {
        const float* d = dy + ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * C;
        for (int fy = 0; fy < g.f_h; ++fy) {
          int iy = oy * g.stride_h - g.pad_top + fy * g.dil_h;
          if (iy < 0 || iy >= g.in_h) continue;
          for (int fx = 0; fx < g.f_w; ++fx) {
            int ix = ox * g.stride_w - g.pad_left + fx * g.dil_w;
            if (ix < 0 || ix >= g.in_w) continue;
            float* xp = dxb + (static_cast<long>(iy) * g.in_w + ix) * C;
            for (int c = 0; c < C; ++c) xp[c] += d[c] * scale;
          }
        }
      }
  });
}

}  // namespace ringtree::kernels
