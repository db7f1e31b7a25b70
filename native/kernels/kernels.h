// Float32 NHWC kernels behind the `ringtree-cpu` tfjs backend. Pure C++ (no N-API): the binding in
// native/binding/kernels_binding.cc validates arguments and calls these. Every function writes every
// element of its output, and is bitwise deterministic for any thread count.
#pragma once
#include <cstdint>

namespace ringtree::kernels {

struct ConvGeom {
  int batch, in_h, in_w, in_c;
  int out_h, out_w, out_c;  // out_c = in_c * channel multiplier for depthwise
  int f_h, f_w;
  int stride_h, stride_w, dil_h, dil_w;
  int pad_top, pad_left;
};

// Calls fn(pixel, fy, fx) for every in-bounds tap of the window of output (oy, ox); pixel is the
// input pixel's index iy * in_w + ix (times the channel count for an NHWC offset). The one place
// the convolution/pooling window geometry (stride, padding, dilation, bounds) is spelled out.
template <typename Fn>
inline void for_each_tap(const ConvGeom& g, int oy, int ox, Fn&& fn) {
  for (int fy = 0; fy < g.f_h; ++fy) {
    const int iy = oy * g.stride_h - g.pad_top + fy * g.dil_h;
    if (iy < 0 || iy >= g.in_h) continue;
    for (int fx = 0; fx < g.f_w; ++fx) {
      const int ix = ox * g.stride_w - g.pad_left + fx * g.dil_w;
      if (ix < 0 || ix >= g.in_w) continue;
      fn(static_cast<long>(iy) * g.in_w + ix, fy, fx);
    }
  }
}

enum Activation { kLinear = 0, kRelu = 1 };

// Conv2D (filter [fh, fw, in_c, out_c]); bias optional ([out_c]), activation linear or relu.
void conv2d(const ConvGeom& g, const float* x, const float* w, const float* bias, int act, float* y);
void conv2d_backprop_input(const ConvGeom& g, const float* dy, const float* w, float* dx);
void conv2d_backprop_filter(const ConvGeom& g, const float* x, const float* dy, float* dw);

// Depthwise (filter [fh, fw, in_c, mult]).
void depthwise_conv2d(const ConvGeom& g, const float* x, const float* w, float* y);
void depthwise_backprop_input(const ConvGeom& g, const float* dy, const float* w, float* dx);
void depthwise_backprop_filter(const ConvGeom& g, const float* x, const float* dy, float* dw);

// Pools (in_c == out_c); avg divides by the number of in-bounds taps, as tfjs does.
void max_pool(const ConvGeom& g, const float* x, float* y);
void avg_pool(const ConvGeom& g, const float* x, float* y);
void max_pool_grad(const ConvGeom& g, const float* dy, const float* x, float* dx);
// Max pool that also records, per output, the argmax's index within its image ((iy * in_w + ix) * C + c,
// or -1 when the window has no value > -inf), and the gradient computed from those positions.
void max_pool_with_positions(const ConvGeom& g, const float* x, float* y, int32_t* pos);
void max_pool_grad_from_positions(const ConvGeom& g, const float* dy, const int32_t* pos, float* dx);
// tfjs' AvgPoolGrad scales by 1 / (f_h * f_w) whatever the padding.
void avg_pool_grad(const ConvGeom& g, const float* dy, float* dx);

// Batched matmul: out[b] = op(A[b]) * op(B[b]) (+ bias) (relu); batch index of A is b % batch_a == 0
// when batch_a == 1 (broadcast), same for B. bias: nullptr, length 1 or length n (bias_len).
void batch_matmul(const float* a, const float* b, float* out, int batch_a, int batch_b, int m, int n, int k,
                  bool trans_a, bool trans_b, const float* bias, int bias_len, int act);

// y = offset + (x - mean) * scale / sqrt(var + eps); every parameter is indexed i % its length (as tfjs).
void batch_norm(const float* x, long size, const float* mean, long n_mean, const float* var, long n_var,
                const float* offset, long n_offset, const float* scale, long n_scale, float eps, float* y);

// Elementwise. Binary ops on an [outer, inner] view: operand a is indexed by (outer if a_outer) and
// (inner if a_inner), so same shape, scalar, trailing and leading broadcasts are all one loop.
// kReluGrad: a * step(b), i.e. dy * (x > 0 ? 1 : x is NaN ? NaN : 0): tfjs' ReLU gradient in one pass.
enum BinaryOp { kAdd = 0, kSub, kMul, kDiv, kMax, kReluGrad };
void binary(int op, const float* a, bool a_outer, bool a_inner, const float* b, bool b_outer, bool b_inner,
            long outer, long inner, float* out);
enum UnaryOp { kRelu_ = 0, kRelu6, kStep, kExp, kLog, kNeg, kSquare, kSqrt };
void unary(int op, const float* x, long n, float alpha, float* out);

// Reductions over the middle axis of an [outer, reduce, inner] view.
void reduce_sum(const float* x, long outer, long reduce, long inner, bool mean, float* out);
void reduce_max(const float* x, long outer, long reduce, long inner, float* out);
void arg_max(const float* x, long outer, long reduce, long inner, int32_t* out);
void softmax(const float* x, long rows, long cols, float* out);

}  // namespace ringtree::kernels
