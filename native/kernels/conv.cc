// Conv2D and its backprops via im2col + GEMM (NHWC), depthwise convs by direct loops.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/scratch.h"
#include "kernels/threadpool.h"

namespace ringtree::kernels {
namespace {

constexpr int kLanes = 8;  // fixed reduction lanes for filter gradients (independent of thread count)

inline long K_of(const ConvGeom& g) { return static_cast<long>(g.f_h) * g.f_w * g.in_c; }

bool is_pointwise(const ConvGeom& g) {
  return g.f_h == 1 && g.f_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0 &&
         g.out_h == g.in_h && g.out_w == g.in_w;
}

// Rows [m0, m1) of the im2col matrix (row = output pixel, col = (fy, fx, c)). Works on runs of
// output pixels in one output row: per tap, the in-bounds range of ox is computed once, so the inner
// loops are plain strided copies without bounds checks or divisions.
inline int ceil_div(int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// count pixels of C channels: src advances by sx, d by K. Common channel counts get a fixed-size copy
// the compiler turns into a few vector moves; a variable-length loop costs more than the copy here.
template <int CC>
inline void copy_fixed(float* d, long K, const float* src, long sx, int count) {
  for (int o = 0; o < count; ++o, d += K, src += sx) std::memcpy(d, src, sizeof(float) * CC);
}
inline void copy_pixels(float* d, long K, const float* src, long sx, int C, int count) {
  switch (C) {
    case 1: for (int o = 0; o < count; ++o, d += K, src += sx) *d = *src; return;
    case 3: return copy_fixed<3>(d, K, src, sx, count);
    case 4: return copy_fixed<4>(d, K, src, sx, count);
    case 8: return copy_fixed<8>(d, K, src, sx, count);
    case 16: return copy_fixed<16>(d, K, src, sx, count);
    case 32: return copy_fixed<32>(d, K, src, sx, count);
    case 64: return copy_fixed<64>(d, K, src, sx, count);
    default:
      for (int o = 0; o < count; ++o, d += K, src += sx) std::memcpy(d, src, sizeof(float) * C);
  }
}
inline void zero_pixels(float* d, long K, int C, int count) {
  for (int o = 0; o < count; ++o, d += K) std::memset(d, 0, sizeof(float) * C);
}

void im2col(const ConvGeom& g, const float* x, long m0, long m1, float* col) {
  const int C = g.in_c;
  const long K = K_of(g);
  const long hw = static_cast<long>(g.out_h) * g.out_w;
  const long img = static_cast<long>(g.in_h) * g.in_w * C;
  const long sx = static_cast<long>(g.stride_w) * C;
  for (long m = m0; m < m1;) {
    const long b = m / hw;
    const int oy = static_cast<int>((m % hw) / g.out_w), ox0 = static_cast<int>((m % hw) % g.out_w);
    const int ox1 = static_cast<int>(std::min<long>(g.out_w, ox0 + (m1 - m)));
    float* base = col + (m - m0) * K;
    const float* xb = x + b * img;
    for (int fy = 0; fy < g.f_h; ++fy) {
      const int iy = oy * g.stride_h - g.pad_top + fy * g.dil_h;
      const bool row_in = iy >= 0 && iy < g.in_h;
      for (int fx = 0; fx < g.f_w; ++fx) {
        const long t = (static_cast<long>(fy) * g.f_w + fx) * C;
        const int shift = fx * g.dil_w - g.pad_left;  // ix = ox * stride_w + shift
        int va = ox0, vb = ox0;                        // in-bounds ox range within [ox0, ox1)
        if (row_in) {
          va = std::max(ox0, ceil_div(-shift, g.stride_w));
          vb = std::min(ox1, ceil_div(g.in_w - shift, g.stride_w));
          if (vb < va) vb = va;
        }
        float* d = base + t;
        const float* src = xb + (static_cast<long>(iy) * g.in_w + static_cast<long>(va) * g.stride_w + shift) * C;
        zero_pixels(d, K, C, va - ox0);
        d += (va - ox0) * K;
        copy_pixels(d, K, src, sx, C, vb - va);
        d += (vb - va) * K;
        zero_pixels(d, K, C, ox1 - vb);
      }
    }
    m += ox1 - ox0;
  }
}

// dx (one image, already zeroed) += col2im(rows [r0, r1) of that image's dcol).
void col2im_add(const ConvGeom& g, const float* col, long r0, long r1, float* dxb) {
  const int C = g.in_c;
  int oy = static_cast<int>(r0 / g.out_w), ox = static_cast<int>(r0 % g.out_w);
  const float* src = col;
  for (long r = r0; r < r1; ++r) {
    for (int fy = 0; fy < g.f_h; ++fy) {
      int iy = oy * g.stride_h - g.pad_top + fy * g.dil_h;
      bool row_in = iy >= 0 && iy < g.in_h;
      float* drow = dxb + static_cast<long>(iy) * g.in_w * C;
      for (int fx = 0; fx < g.f_w; ++fx, src += C) {
        int ix = ox * g.stride_w - g.pad_left + fx * g.dil_w;
        if (!row_in || ix < 0 || ix >= g.in_w) continue;
        float* d = drow + static_cast<long>(ix) * C;
        if (C == 1) *d += *src;
        else for (int c = 0; c < C; ++c) d[c] += src[c];
      }
    }
    if (++ox == g.out_w) { ox = 0; ++oy; }
  }
}

// Rows per im2col chunk: about 128 KiB of column data, a multiple of 6 and 4, depends only on shapes.
long chunk_rows(long K) {
  long r = (32768 / std::max(1L, K)) / 24 * 24;
  return std::clamp(r, 48L, 2400L);
}

void bias_act(float* y, long rows, int n, const float* bias, int act) {
  if (!bias && act == kLinear) return;
  for (long i = 0; i < rows; ++i) {
    float* r = y + i * n;
    if (bias)
      for (int j = 0; j < n; ++j) r[j] += bias[j];
    if (act == kRelu)
      for (int j = 0; j < n; ++j) r[j] = r[j] < 0.f ? 0.f : r[j];
  }
}

}  // namespace

void conv2d(const ConvGeom& g, const float* x, const float* w, const float* bias, int act, float* y) {
  const long M = static_cast<long>(g.batch) * g.out_h * g.out_w;
  const long K = K_of(g);
  const int N = g.out_c;
  const long R = chunk_rows(K);
  const long chunks = (M + R - 1) / R;
  MatView B{w, N, 1};
  parallel_for(static_cast<int>(chunks), [&](int c) {
    long m0 = c * R, m1 = std::min(M, m0 + R);
    MatView A;
    if (is_pointwise(g)) {
      A = {x + m0 * K, K, 1};
    } else {
      float* col = thread_scratch(0, static_cast<size_t>(R * K));
      im2col(g, x, m0, m1, col);
      A = {col, K, 1};
    }
    sgemm_serial(static_cast<int>(m1 - m0), N, static_cast<int>(K), A, B, y + m0 * N, N, false);
    bias_act(y + m0 * N, m1 - m0, N, bias, act);
  });
}

void conv2d_backprop_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  const long K = K_of(g);
  const int N = g.out_c;
  const long hw_out = static_cast<long>(g.out_h) * g.out_w;
  const long img = static_cast<long>(g.in_h) * g.in_w * g.in_c;
  MatView Wt{w, 1, N};  // [out_c, K] view of the [K, out_c] filter
  if (is_pointwise(g)) {
    sgemm(static_cast<int>(g.batch * hw_out), static_cast<int>(K), N, {dy, N, 1}, Wt, dx, K, false);
    return;
  }
  if (g.stride_h == 1 && g.stride_w == 1 && g.dil_h == 1 && g.dil_w == 1 && g.in_c >= 8) {
    // Stride 1: dx is the forward convolution of dy with the spatially flipped, channel-transposed
    // filter and complementary padding, so it runs as im2col + one long-K GEMM with no col2im scatter.
    static thread_local Scratch flipped;
    float* wf = flipped.get(static_cast<size_t>(K) * N);
    for (int fy = 0; fy < g.f_h; ++fy)
      for (int fx = 0; fx < g.f_w; ++fx)
        for (int ci = 0; ci < g.in_c; ++ci)
          for (int co = 0; co < N; ++co)
            wf[((static_cast<long>(g.f_h - 1 - fy) * g.f_w + (g.f_w - 1 - fx)) * N + co) * g.in_c + ci] =
                w[((static_cast<long>(fy) * g.f_w + fx) * g.in_c + ci) * N + co];
    ConvGeom t = g;
    t.in_h = g.out_h; t.in_w = g.out_w; t.in_c = g.out_c;
    t.out_h = g.in_h; t.out_w = g.in_w; t.out_c = g.in_c;
    t.pad_top = g.f_h - 1 - g.pad_top;
    t.pad_left = g.f_w - 1 - g.pad_left;
    conv2d(t, dy, wf, nullptr, kLinear, dx);
    return;
  }
  const long R = chunk_rows(K);
  parallel_for(g.batch, [&](int b) {
    float* dxb = dx + b * img;
    std::memset(dxb, 0, sizeof(float) * img);
    float* col = thread_scratch(0, static_cast<size_t>(R * K));
    const float* dyb = dy + b * hw_out * N;
    for (long r0 = 0; r0 < hw_out; r0 += R) {
      long r1 = std::min(hw_out, r0 + R);
      sgemm_serial(static_cast<int>(r1 - r0), static_cast<int>(K), N, {dyb + r0 * N, N, 1}, Wt, col, K, false);
      col2im_add(g, col, r0, r1, dxb);
    }
  });
}

void conv2d_backprop_filter(const ConvGeom& g, const float* x, const float* dy, float* dw) {
  const long M = static_cast<long>(g.batch) * g.out_h * g.out_w;
  const long K = K_of(g);
  const int N = g.out_c;
  const long R = chunk_rows(K);
  const long chunks = (M + R - 1) / R;
  const int lanes = static_cast<int>(std::min<long>(kLanes, chunks));
  const long wsize = K * N;
  static thread_local Scratch lane_acc;
  float* acc = lanes > 1 ? lane_acc.get(static_cast<size_t>(wsize * lanes)) : dw;
  const bool pw = is_pointwise(g);
  parallel_for(lanes, [&](int l) {
    float* a = acc + l * wsize;
    std::memset(a, 0, sizeof(float) * wsize);
    float* col = pw ? nullptr : thread_scratch(0, static_cast<size_t>(R * K));
    for (long c = l; c < chunks; c += lanes) {
      long m0 = c * R, m1 = std::min(M, m0 + R);
      MatView A;
      if (pw) {
        A = {x + m0 * K, 1, K};
      } else {
        im2col(g, x, m0, m1, col);
        A = {col, 1, K};  // [K, rows] view of the [rows, K] columns
      }
      sgemm_serial(static_cast<int>(K), N, static_cast<int>(m1 - m0), A, {dy + m0 * N, N, 1}, a, N, true);
    }
  });
  if (lanes > 1) {
    std::memcpy(dw, acc, sizeof(float) * wsize);
    for (int l = 1; l < lanes; ++l) {
      const float* a = acc + l * wsize;
      for (long i = 0; i < wsize; ++i) dw[i] += a[i];
    }
  } else if (lanes == 0) {
    std::memset(dw, 0, sizeof(float) * wsize);
  }
}

// ---- depthwise ----

void depthwise_conv2d(const ConvGeom& g, const float* x, const float* w, float* y) {
  parallel_for(g.batch * g.out_h, [&](int t) {
    const int C = g.in_c, OC = g.out_c, mult = OC / C;  // local copies for the vectorizer
    int b = t / g.out_h, oy = t % g.out_h;
    const float* xb = x + static_cast<long>(b) * g.in_h * g.in_w * C;
    for (int ox = 0; ox < g.out_w; ++ox) {
      float* out = y + ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * OC;
      std::memset(out, 0, sizeof(float) * OC);
      for_each_tap(g, oy, ox, [&](long pixel, int fy, int fx) {
        const float* xp = xb + pixel * C;
        const float* wp = w + (static_cast<long>(fy) * g.f_w + fx) * OC;
        if (mult == 1) {
          for (int c = 0; c < C; ++c) out[c] += xp[c] * wp[c];
        } else {
          for (int c = 0; c < C; ++c)
            for (int q = 0; q < mult; ++q) out[c * mult + q] += xp[c] * wp[c * mult + q];
        }
      });
    }
  });
}

void depthwise_backprop_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  const long img = static_cast<long>(g.in_h) * g.in_w * g.in_c;
  parallel_for(g.batch, [&](int b) {
    const int C = g.in_c, OC = g.out_c, mult = OC / C;  // local copies for the vectorizer
    float* dxb = dx + b * img;
    std::memset(dxb, 0, sizeof(float) * img);
    for (int oy = 0; oy < g.out_h; ++oy)
      for (int ox = 0; ox < g.out_w; ++ox) {
        const float* d = dy + ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * OC;
        for_each_tap(g, oy, ox, [&](long pixel, int fy, int fx) {
          float* xp = dxb + pixel * C;
          const float* wp = w + (static_cast<long>(fy) * g.f_w + fx) * OC;
          if (mult == 1) {
            for (int c = 0; c < C; ++c) xp[c] += d[c] * wp[c];
          } else {
            for (int c = 0; c < C; ++c) {
              float s = 0.f;
              for (int q = 0; q < mult; ++q) s += d[c * mult + q] * wp[c * mult + q];
              xp[c] += s;
            }
          }
        });
      }
  });
}

void depthwise_backprop_filter(const ConvGeom& g, const float* x, const float* dy, float* dw) {
  const long wsize = static_cast<long>(g.f_h) * g.f_w * g.out_c;
  const int lanes = std::min(kLanes, g.batch);
  static thread_local Scratch lane_acc;
  float* acc = lane_acc.get(static_cast<size_t>(wsize * std::max(1, lanes)));
  parallel_for(lanes, [&](int l) {
    const int C = g.in_c, OC = g.out_c, mult = OC / C;  // local copies for the vectorizer
    float* a = acc + l * wsize;
    std::memset(a, 0, sizeof(float) * wsize);
    for (int b = l; b < g.batch; b += lanes) {
      const float* xb = x + static_cast<long>(b) * g.in_h * g.in_w * C;
      for (int oy = 0; oy < g.out_h; ++oy)
        for (int ox = 0; ox < g.out_w; ++ox) {
          const float* d = dy + ((static_cast<long>(b) * g.out_h + oy) * g.out_w + ox) * OC;
          for_each_tap(g, oy, ox, [&](long pixel, int fy, int fx) {
            const float* xp = xb + pixel * C;
            float* wp = a + (static_cast<long>(fy) * g.f_w + fx) * OC;
            if (mult == 1) {
              for (int c = 0; c < C; ++c) wp[c] += xp[c] * d[c];
            } else {
              for (int c = 0; c < C; ++c)
                for (int q = 0; q < mult; ++q) wp[c * mult + q] += xp[c] * d[c * mult + q];
            }
          });
        }
    }
  });
  if (lanes == 0) {
    std::memset(dw, 0, sizeof(float) * wsize);
    return;
  }
  std::memcpy(dw, acc, sizeof(float) * wsize);
  for (int l = 1; l < lanes; ++l)
    for (long i = 0; i < wsize; ++i) dw[i] += acc[l * wsize + i];
}

}  // namespace ringtree::kernels
