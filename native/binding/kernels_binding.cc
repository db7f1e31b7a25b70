// N-API entry points of the tfjs CPU kernels (native/kernels). Every entry point checks the lengths of
// the typed arrays it is given against the geometry before touching memory, and throws TypeError /
// RangeError otherwise. All calls are synchronous: tfjs kernels are synchronous.
#include "binding/kernels_binding.h"

#include <time.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/threadpool.h"

namespace ringtree::binding {
namespace {

namespace k = ringtree::kernels;

struct Args {
  const Napi::CallbackInfo& info;
  bool ok = true;
  explicit Args(const Napi::CallbackInfo& i) : info(i) {}
  void fail(const std::string& msg) {
    if (ok) Napi::TypeError::New(info.Env(), msg).ThrowAsJavaScriptException();
    ok = false;
  }
  float* f32(size_t i, size_t need, bool optional = false) {
    if (!ok) return nullptr;
    if (i >= info.Length()) { fail("missing argument " + std::to_string(i)); return nullptr; }
    Napi::Value v = info[i];
    if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      fail("argument " + std::to_string(i) + " must be a Float32Array");
      return nullptr;
    }
    auto a = v.As<Napi::Float32Array>();
    if (a.ElementLength() < need) {
      fail("argument " + std::to_string(i) + " too short: " + std::to_string(a.ElementLength()) + " < " +
           std::to_string(need));
      return nullptr;
    }
    return a.Data();
  }
  size_t len(size_t i) {
    if (!ok || i >= info.Length() || !info[i].IsTypedArray()) return 0;
    return info[i].As<Napi::TypedArray>().ElementLength();
  }
  int32_t* i32(size_t i, size_t need) {
    if (!ok) return nullptr;
    if (i >= info.Length() || !info[i].IsTypedArray() ||
        info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      fail("argument " + std::to_string(i) + " must be an Int32Array");
      return nullptr;
    }
    auto a = info[i].As<Napi::Int32Array>();
    if (a.ElementLength() < need) { fail("argument " + std::to_string(i) + " too short"); return nullptr; }
    return a.Data();
  }
  long num(size_t i) {
    if (!ok) return 0;
    if (i >= info.Length() || !info[i].IsNumber()) { fail("argument " + std::to_string(i) + " must be a number"); return 0; }
    double d = info[i].As<Napi::Number>().DoubleValue();
    return static_cast<long>(d);
  }
  double dbl(size_t i) {
    if (!ok) return 0;
    if (i >= info.Length() || !info[i].IsNumber()) { fail("argument " + std::to_string(i) + " must be a number"); return 0; }
    return info[i].As<Napi::Number>().DoubleValue();
  }
  bool flag(size_t i) { return ok && i < info.Length() && info[i].ToBoolean().Value(); }
  bool geom(size_t i, k::ConvGeom* g) {
    int32_t* p = i32(i, 15);
    if (!p) return false;
    *g = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14]};
    if (g->batch < 0 || g->in_h <= 0 || g->in_w <= 0 || g->in_c <= 0 || g->out_h <= 0 || g->out_w <= 0 ||
        g->out_c <= 0 || g->f_h <= 0 || g->f_w <= 0 || g->stride_h <= 0 || g->stride_w <= 0 || g->dil_h <= 0 ||
        g->dil_w <= 0) {
      fail("invalid convolution geometry");
      return false;
    }
    return true;
  }
};

size_t in_size(const k::ConvGeom& g) { return static_cast<size_t>(g.batch) * g.in_h * g.in_w * g.in_c; }
size_t out_size(const k::ConvGeom& g) { return static_cast<size_t>(g.batch) * g.out_h * g.out_w * g.out_c; }
size_t filter_size(const k::ConvGeom& g) { return static_cast<size_t>(g.f_h) * g.f_w * g.in_c * g.out_c; }
size_t dw_filter_size(const k::ConvGeom& g) { return static_cast<size_t>(g.f_h) * g.f_w * g.out_c; }

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("gemm", Napi::String::New(env, k::gemm_name()));
  o.Set("threads", Napi::Number::New(env, k::num_threads()));
  o.Set("openblas", Napi::Boolean::New(env, k::have_openblas()));
  return o;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Args a(info);
  long n = a.num(0);
  if (!a.ok) return info.Env().Undefined();
  k::set_num_threads(static_cast<int>(n <= 0 ? k::default_num_threads() : n));
  return Napi::Number::New(info.Env(), k::num_threads());
}

Napi::Value SetGemm(const Napi::CallbackInfo& info) {
  Args a(info);
  long which = a.num(0);
  if (!a.ok) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), k::set_gemm_impl(static_cast<int>(which)));
}

Napi::Value Conv2D(const Napi::CallbackInfo& info) {
  Args a(info);
  k::ConvGeom g;
  if (!a.geom(4, &g)) return info.Env().Undefined();
  const float* x = a.f32(0, in_size(g));
  const float* w = a.f32(1, filter_size(g));
  const float* bias = a.f32(2, g.out_c, true);
  float* y = a.f32(3, out_size(g));
  long act = a.num(5);
  if (!a.ok) return info.Env().Undefined();
  k::conv2d(g, x, w, bias, static_cast<int>(act), y);
  return info.Env().Undefined();
}

template <void (*F)(const k::ConvGeom&, const float*, const float*, float*), int Kind>
Napi::Value Conv3(const Napi::CallbackInfo& info) {
  // Kind: 0 bprop input (dy, w, dx), 1 bprop filter (x, dy, dw), 2 depthwise (x, w, y),
  //       3 depthwise bprop input, 4 depthwise bprop filter, 5 max pool grad (dy, x, dx)
  Args a(info);
  k::ConvGeom g;
  if (!a.geom(3, &g)) return info.Env().Undefined();
  size_t n0 = 0, n1 = 0, n2 = 0;
  switch (Kind) {
    case 0: n0 = out_size(g); n1 = filter_size(g); n2 = in_size(g); break;
    case 1: n0 = in_size(g); n1 = out_size(g); n2 = filter_size(g); break;
    case 2: n0 = in_size(g); n1 = dw_filter_size(g); n2 = out_size(g); break;
    case 3: n0 = out_size(g); n1 = dw_filter_size(g); n2 = in_size(g); break;
    case 4: n0 = in_size(g); n1 = out_size(g); n2 = dw_filter_size(g); break;
    case 5: n0 = out_size(g); n1 = in_size(g); n2 = in_size(g); break;
  }
  if ((Kind >= 2 && Kind <= 4 && g.out_c % g.in_c != 0) || (Kind == 5 && g.out_c != g.in_c)) {
    a.fail("channel mismatch");
    return info.Env().Undefined();
  }
  const float* p0 = a.f32(0, n0);
  const float* p1 = a.f32(1, n1);
  float* p2 = a.f32(2, n2);
  if (!a.ok) return info.Env().Undefined();
  F(g, p0, p1, p2);
  return info.Env().Undefined();
}

template <void (*F)(const k::ConvGeom&, const float*, float*), bool Grad>
Napi::Value Pool2(const Napi::CallbackInfo& info) {
  Args a(info);
  k::ConvGeom g;
  if (!a.geom(2, &g)) return info.Env().Undefined();
  if (g.in_c != g.out_c) { a.fail("channel mismatch"); return info.Env().Undefined(); }
  const float* p0 = a.f32(0, Grad ? out_size(g) : in_size(g));
  float* p1 = a.f32(1, Grad ? in_size(g) : out_size(g));
  if (!a.ok) return info.Env().Undefined();
  F(g, p0, p1);
  return info.Env().Undefined();
}

// maxPoolWithPositions(x, y, pos Int32Array, geom); maxPoolGradFromPositions(dy, pos, dx, geom)
Napi::Value MaxPoolPos(const Napi::CallbackInfo& info) {
  Args a(info);
  k::ConvGeom g;
  if (!a.geom(3, &g)) return info.Env().Undefined();
  if (g.in_c != g.out_c) { a.fail("channel mismatch"); return info.Env().Undefined(); }
  const float* x = a.f32(0, in_size(g));
  float* y = a.f32(1, out_size(g));
  int32_t* pos = a.i32(2, out_size(g));
  if (!a.ok) return info.Env().Undefined();
  k::max_pool_with_positions(g, x, y, pos);
  return info.Env().Undefined();
}

Napi::Value MaxPoolGradPos(const Napi::CallbackInfo& info) {
  Args a(info);
  k::ConvGeom g;
  if (!a.geom(3, &g)) return info.Env().Undefined();
  if (g.in_c != g.out_c) { a.fail("channel mismatch"); return info.Env().Undefined(); }
  const float* dy = a.f32(0, out_size(g));
  const int32_t* pos = a.i32(1, out_size(g));
  float* dx = a.f32(2, in_size(g));
  if (!a.ok) return info.Env().Undefined();
  const long limit = static_cast<long>(g.in_h) * g.in_w * g.in_c;
  const size_t n = out_size(g);
  for (size_t i = 0; i < n; ++i)  // positions index one image: never trust them blindly
    if (pos[i] >= limit) { a.fail("max pool position out of range"); return info.Env().Undefined(); }
  k::max_pool_grad_from_positions(g, dy, pos, dx);
  return info.Env().Undefined();
}

Napi::Value BatchMatMul(const Napi::CallbackInfo& info) {
  // (a, b, out, batchA, batchB, m, n, k, transA, transB, bias|null, act)
  Args a(info);
  long ba = a.num(3), bb = a.num(4), m = a.num(5), n = a.num(6), kk = a.num(7);
  if (!a.ok) return info.Env().Undefined();
  if (ba < 1 || bb < 1 || m < 0 || n < 0 || kk < 0 || (ba != bb && ba != 1 && bb != 1)) {
    a.fail("invalid matmul shape");
    return info.Env().Undefined();
  }
  long batch = ba > bb ? ba : bb;
  const float* pa = a.f32(0, static_cast<size_t>(ba * m * kk));
  const float* pb = a.f32(1, static_cast<size_t>(bb * kk * n));
  float* out = a.f32(2, static_cast<size_t>(batch * m * n));
  const float* bias = a.f32(10, 1, true);
  size_t bias_len = bias ? a.len(10) : 0;
  long act = a.num(11);
  if (!a.ok) return info.Env().Undefined();
  if (bias && bias_len != 1 && bias_len != static_cast<size_t>(n)) { a.fail("bias length"); return info.Env().Undefined(); }
  k::batch_matmul(pa, pb, out, static_cast<int>(ba), static_cast<int>(bb), static_cast<int>(m), static_cast<int>(n),
                  static_cast<int>(kk), a.flag(8), a.flag(9), bias, static_cast<int>(bias_len), static_cast<int>(act));
  return info.Env().Undefined();
}

Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  // (x, mean, var, offset|null, scale|null, eps, y)
  Args a(info);
  size_t n = a.len(0);
  const float* x = a.f32(0, n);
  const float* mean = a.f32(1, 1);
  const float* var = a.f32(2, 1);
  const float* off = a.f32(3, 1, true);
  const float* sc = a.f32(4, 1, true);
  double eps = a.dbl(5);
  float* y = a.f32(6, n);
  if (!a.ok) return info.Env().Undefined();
  k::batch_norm(x, static_cast<long>(n), mean, static_cast<long>(a.len(1)), var, static_cast<long>(a.len(2)), off,
                off ? static_cast<long>(a.len(3)) : 1, sc, sc ? static_cast<long>(a.len(4)) : 1, static_cast<float>(eps), y);
  return info.Env().Undefined();
}

Napi::Value Binary(const Napi::CallbackInfo& info) {
  // (op, a, aOuter, aInner, b, bOuter, bInner, outer, inner, out)
  Args a(info);
  long op = a.num(0), outer = a.num(7), inner = a.num(8);
  if (!a.ok) return info.Env().Undefined();
  if (op < 0 || op > 5 || outer < 0 || inner < 0) { a.fail("invalid binary op"); return info.Env().Undefined(); }
  bool ao = a.flag(2), ai = a.flag(3), bo = a.flag(5), bi = a.flag(6);
  const float* pa = a.f32(1, static_cast<size_t>((ao ? outer : 1) * (ai ? inner : 1)));
  const float* pb = a.f32(4, static_cast<size_t>((bo ? outer : 1) * (bi ? inner : 1)));
  float* out = a.f32(9, static_cast<size_t>(outer * inner));
  if (!a.ok) return info.Env().Undefined();
  if (outer * inner == 0) return info.Env().Undefined();
  k::binary(static_cast<int>(op), pa, ao, ai, pb, bo, bi, outer, inner, out);
  return info.Env().Undefined();
}

Napi::Value Unary(const Napi::CallbackInfo& info) {
  // (op, x, alpha, out)
  Args a(info);
  long op = a.num(0);
  size_t n = a.len(1);
  const float* x = a.f32(1, n);
  double alpha = a.dbl(2);
  float* out = a.f32(3, n);
  if (!a.ok) return info.Env().Undefined();
  if (op < 0 || op > 7) { a.fail("invalid unary op"); return info.Env().Undefined(); }
  k::unary(static_cast<int>(op), x, static_cast<long>(n), static_cast<float>(alpha), out);
  return info.Env().Undefined();
}

// (x, outer, reduce, inner, out[, mean])  kind 0 sum, 1 max, 2 argmax, 3 softmax (outer = rows, reduce = cols)
template <int Kind>
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Args a(info);
  long outer = a.num(1), reduce = a.num(2), inner = a.num(3);
  if (!a.ok) return info.Env().Undefined();
  if (outer < 0 || reduce < 1 || inner < 0) { a.fail("invalid reduction shape"); return info.Env().Undefined(); }
  const float* x = a.f32(0, static_cast<size_t>(outer * reduce * inner));
  if (Kind == 2) {
    int32_t* out = a.i32(4, static_cast<size_t>(outer * inner));
    if (!a.ok) return info.Env().Undefined();
    k::arg_max(x, outer, reduce, inner, out);
    return info.Env().Undefined();
  }
  float* out = a.f32(4, static_cast<size_t>(Kind == 3 ? outer * reduce * inner : outer * inner));
  if (!a.ok) return info.Env().Undefined();
  if (Kind == 0) k::reduce_sum(x, outer, reduce, inner, a.flag(5), out);
  if (Kind == 1) k::reduce_max(x, outer, reduce, inner, out);
  if (Kind == 3) {
    if (inner != 1) { a.fail("softmax over the last axis only"); return info.Env().Undefined(); }
    k::softmax(x, outer, reduce, out);
  }
  return info.Env().Undefined();
}

// sgemmBench(M, N, K, iters, impl) -> { wall, cpu } seconds per call (impl: 1 own, 2 openblas, 3 portable),
// or -1 when that implementation is not available. cpu is the process CPU time (all threads).
Napi::Value SgemmBench(const Napi::CallbackInfo& info) {
  Args a(info);
  long M = a.num(0), N = a.num(1), K = a.num(2), iters = a.num(3), which = a.num(4);
  if (!a.ok) return info.Env().Undefined();
  if (M <= 0 || N <= 0 || K <= 0 || iters <= 0) { a.fail("invalid sgemm bench size"); return info.Env().Undefined(); }
  std::vector<float> A(static_cast<size_t>(M * K)), B(static_cast<size_t>(K * N)), C(static_cast<size_t>(M * N));
  for (size_t i = 0; i < A.size(); ++i) A[i] = static_cast<float>((i * 7919) % 1000) / 1000.f - 0.5f;
  for (size_t i = 0; i < B.size(); ++i) B[i] = static_cast<float>((i * 104729) % 1000) / 1000.f - 0.5f;
  if (!k::set_gemm_impl(static_cast<int>(which))) { k::set_gemm_impl(0); return Napi::Number::New(info.Env(), -1); }
  k::sgemm(static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), {A.data(), K, 1}, {B.data(), N, 1}, C.data(), N,
           false);  // warm-up
  timespec c0, c1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < iters; ++i)
    k::sgemm(static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), {A.data(), K, 1}, {B.data(), N, 1},
             C.data(), N, false);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(iters);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  double cpu = (static_cast<double>(c1.tv_sec - c0.tv_sec) + 1e-9 * static_cast<double>(c1.tv_nsec - c0.tv_nsec)) /
               static_cast<double>(iters);
  k::set_gemm_impl(0);
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("wall", Napi::Number::New(info.Env(), s));
  r.Set("cpu", Napi::Number::New(info.Env(), cpu));
  return r;
}

}  // namespace

void InitKernels(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* name, Napi::Function::Callback cb) { o.Set(name, Napi::Function::New(env, cb, name)); };
  set("info", Info);
  set("setNumThreads", SetNumThreads);
  set("setGemm", SetGemm);
  set("conv2d", Conv2D);
  set("conv2dBackpropInput", Conv3<k::conv2d_backprop_input, 0>);
  set("conv2dBackpropFilter", Conv3<k::conv2d_backprop_filter, 1>);
  set("depthwiseConv2d", Conv3<k::depthwise_conv2d, 2>);
  set("depthwiseBackpropInput", Conv3<k::depthwise_backprop_input, 3>);
  set("depthwiseBackpropFilter", Conv3<k::depthwise_backprop_filter, 4>);
  set("maxPoolGrad", Conv3<k::max_pool_grad, 5>);
  set("maxPool", Pool2<k::max_pool, false>);
  set("maxPoolWithPositions", MaxPoolPos);
  set("maxPoolGradFromPositions", MaxPoolGradPos);
  set("avgPool", Pool2<k::avg_pool, false>);
  set("avgPoolGrad", Pool2<k::avg_pool_grad, true>);
  set("batchMatMul", BatchMatMul);
  set("batchNorm", BatchNorm);
  set("binary", Binary);
  set("unary", Unary);
  set("reduceSum", Reduce<0>);
  set("reduceMax", Reduce<1>);
  set("argMax", Reduce<2>);
  set("softmax", Reduce<3>);
  set("sgemmBench", SgemmBench);
  exports.Set("kernels", o);
}

}  // namespace ringtree::binding
