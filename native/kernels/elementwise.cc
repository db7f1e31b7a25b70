// Elementwise ops, batch norm, reductions, softmax and batched matmul.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/scratch.h"
#include "kernels/simd.h"
#include "kernels/threadpool.h"

namespace ringtree::kernels {
namespace {

constexpr long kGrain = 1 << 16;  // elements per task for elementwise work

// Splits [0, n) into fixed-size pieces (results never depend on the split).
template <typename F>
void par_range(long n, F&& f) {
  long tasks = (n + kGrain - 1) / kGrain;
  if (tasks <= 1 || num_threads() <= 1) { f(0L, n); return; }
  parallel_for(static_cast<int>(tasks), [&](int t) { f(t * kGrain, std::min(n, (t + 1) * kGrain)); });
}

struct AddOp { static float f(float a, float b) { return a + b; } };
struct SubOp { static float f(float a, float b) { return a - b; } };
struct MulOp { static float f(float a, float b) { return a * b; } };
struct DivOp { static float f(float a, float b) { return a / b; } };
// tfjs' step: v > 0 -> 1, NaN -> NaN (the input's bits), else alpha (bits alpha_b); selected through
// bit masks so loops over it vectorize.
inline float step_of(float v, uint32_t alpha_b) {
  uint32_t vb;
  std::memcpy(&vb, &v, 4);
  uint32_t pos = 0u - static_cast<uint32_t>(v > 0.f);
  uint32_t nan = 0u - static_cast<uint32_t>(v != v);
  uint32_t r = (pos & 0x3f800000u) | (~pos & alpha_b);  // 0x3f800000 = 1.0f
  r = (nan & vb) | (~nan & r);
  float out;
  std::memcpy(&out, &r, 4);
  return out;
}
// dy * step(x) (alpha 0): tfjs' ReLU gradient in one pass.
struct ReluGradOp {
  static float f(float dy, float x) { return dy * step_of(x, 0u); }
};
struct MaxOp {
  static float f(float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<float>::quiet_NaN();
    return a > b ? a : (b > a ? b : (std::signbit(a) ? b : a));
  }
};

// Span loops (multiversioned; see simd.h). out never aliases an input: outputs are fresh buffers.
template <typename Op>
RINGTREE_SIMD void span_vv(const float* __restrict a, const float* __restrict b, float* __restrict out, long n) {
  for (long i = 0; i < n; ++i) out[i] = Op::f(a[i], b[i]);
}
template <typename Op>
RINGTREE_SIMD void span_vs(const float* __restrict a, float bv, float* __restrict out, long n) {
  for (long i = 0; i < n; ++i) out[i] = Op::f(a[i], bv);
}
template <typename Op>
RINGTREE_SIMD void span_sv(float av, const float* __restrict b, float* __restrict out, long n) {
  for (long i = 0; i < n; ++i) out[i] = Op::f(av, b[i]);
}

// A period-`inner` operand (a trailing broadcast such as a bias) repeated into a pattern of whole
// periods at least kPattern long, so the broadcast runs as long same-shape spans against it.
constexpr long kPattern = 1024;

template <typename Op>
void binary_t(const float* a, bool ao, bool ai, const float* b, bool bo, bool bi, long outer, long inner, float* out) {
  const long n = outer * inner;
  if (ao && ai && bo && bi) {
    par_range(n, [&](long s, long e) { span_vv<Op>(a + s, b + s, out + s, e - s); });
    return;
  }
  if (ao && ai && !bo && !bi) {
    float bv = b[0];
    par_range(n, [&](long s, long e) { span_vs<Op>(a + s, bv, out + s, e - s); });
    return;
  }
  if (!ao && !ai && bo && bi) {
    float av = a[0];
    par_range(n, [&](long s, long e) { span_sv<Op>(av, b + s, out + s, e - s); });
    return;
  }
  // Full operand against a trailing broadcast ([outer, inner] op [inner]) with a short period.
  const bool a_full = ao && ai, b_full = bo && bi;
  if ((a_full && !bo && bi) || (b_full && !ao && ai)) {
    if (inner <= kPattern / 4 && outer > 1) {
      const long reps = (kPattern + inner - 1) / inner, period = reps * inner;
      const float* per = a_full ? b : a;
      par_range(n, [&](long s, long e) {
        // s is a multiple of kGrain, not of inner: the pattern starts at phase s % inner.
        float* pat = thread_scratch(1, static_cast<size_t>(period));
        for (long j = 0; j < period; ++j) pat[j] = per[(s + j) % inner];
        for (long i = s; i < e; i += period) {
          long len = std::min(period, e - i);
          if (a_full) span_vv<Op>(a + i, pat, out + i, len);
          else span_vv<Op>(pat, b + i, out + i, len);
        }
      });
      return;
    }
  }
  long la = ai ? inner : 1, lb = bi ? inner : 1;
  auto rows = [&](long o0, long o1) {
    for (long o = o0; o < o1; ++o) {
      const float* ap = a + (ao ? o * la : 0);
      const float* bp = b + (bo ? o * lb : 0);
      float* op = out + o * inner;
      if (ai && bi) span_vv<Op>(ap, bp, op, inner);
      else if (ai) span_vs<Op>(ap, bp[0], op, inner);
      else if (bi) span_sv<Op>(ap[0], bp, op, inner);
      else { float v = Op::f(ap[0], bp[0]); for (long j = 0; j < inner; ++j) op[j] = v; }
    }
  };
  long rows_per_task = std::max(1L, kGrain / std::max(1L, inner));
  long tasks = (outer + rows_per_task - 1) / rows_per_task;
  if (tasks <= 1 || num_threads() <= 1) { rows(0, outer); return; }
  parallel_for(static_cast<int>(tasks), [&](int t) { rows(t * rows_per_task, std::min(outer, (t + 1) * rows_per_task)); });
}

RINGTREE_SIMD void relu_span(const float* __restrict x, float* __restrict out, long n) {
  for (long i = 0; i < n; ++i) out[i] = x[i] < 0.f ? 0.f : x[i];
}

RINGTREE_SIMD void step_span(const float* __restrict x, float alpha, float* __restrict out, long n) {
  uint32_t alpha_b;
  std::memcpy(&alpha_b, &alpha, 4);
  for (long i = 0; i < n; ++i) out[i] = step_of(x[i], alpha_b);
}

RINGTREE_SIMD void neg_span(const float* __restrict x, float* __restrict out, long n) {
  for (long i = 0; i < n; ++i) out[i] = -x[i];
}
RINGTREE_SIMD void square_span(const float* __restrict x, float* __restrict out, long n) {
  for (long i = 0; i < n; ++i) out[i] = x[i] * x[i];
}
RINGTREE_SIMD void sqrt_span(const float* __restrict x, float* __restrict out, long n) {
  for (long i = 0; i < n; ++i) out[i] = std::sqrt(x[i]);
}

// acc[j] += row[j] (or row[j] / n) for a block of columns: each column keeps its sequential order.
RINGTREE_SIMD void acc_rows(const float* __restrict p, long reduce, long inner, long width, bool mean, float n,
                            double* __restrict acc) {
  for (long r = 0; r < reduce; ++r) {
    const float* __restrict row = p + r * inner;
    if (mean) for (long j = 0; j < width; ++j) acc[j] += static_cast<float>(row[j] / n);
    else for (long j = 0; j < width; ++j) acc[j] += row[j];
  }
}

}  // namespace

void binary(int op, const float* a, bool ao, bool ai, const float* b, bool bo, bool bi, long outer, long inner,
            float* out) {
  switch (op) {
    case kAdd: return binary_t<AddOp>(a, ao, ai, b, bo, bi, outer, inner, out);
    case kSub: return binary_t<SubOp>(a, ao, ai, b, bo, bi, outer, inner, out);
    case kMul: return binary_t<MulOp>(a, ao, ai, b, bo, bi, outer, inner, out);
    case kDiv: return binary_t<DivOp>(a, ao, ai, b, bo, bi, outer, inner, out);
    case kMax: return binary_t<MaxOp>(a, ao, ai, b, bo, bi, outer, inner, out);
    case kReluGrad: return binary_t<ReluGradOp>(a, ao, ai, b, bo, bi, outer, inner, out);
  }
}

void unary(int op, const float* x, long n, float alpha, float* out) {
  par_range(n, [&](long s, long e) {
    switch (op) {
      case kRelu_: relu_span(x + s, out + s, e - s); break;
      case kRelu6:
        for (long i = s; i < e; ++i) {
          float v = x[i], r = v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
          out[i] = v != v ? v : r;  // NaN stays NaN
        }
        break;
      case kStep: step_span(x + s, alpha, out + s, e - s); break;
      case kExp: for (long i = s; i < e; ++i) out[i] = static_cast<float>(std::exp(static_cast<double>(x[i]))); break;
      case kLog: for (long i = s; i < e; ++i) out[i] = static_cast<float>(std::log(static_cast<double>(x[i]))); break;
      case kNeg: neg_span(x + s, out + s, e - s); break;
      case kSquare: square_span(x + s, out + s, e - s); break;
      case kSqrt: sqrt_span(x + s, out + s, e - s); break;
    }
  });
}

void batch_norm(const float* x, long size, const float* mean, long nm, const float* var, long nv, const float* offset,
                long no, const float* scale, long ns, float eps, float* y) {
  // Fast path: all parameters per channel (same length C dividing size) -> precompute mul/add per channel.
  par_range(size, [&](long s, long e) {
    for (long i = s; i < e; ++i) {
      double off = offset ? offset[i % no] : 0.0;
      double sc = scale ? scale[i % ns] : 1.0;
      double v = off + (static_cast<double>(x[i]) - mean[i % nm]) * sc / std::sqrt(static_cast<double>(var[i % nv]) + eps);
      y[i] = static_cast<float>(v);
    }
  });
}

void reduce_sum(const float* x, long outer, long reduce, long inner, bool mean, float* out) {
  const float n = static_cast<float>(reduce);
  if (inner == 1) {
    auto f = [&](long o0, long o1) {
      for (long o = o0; o < o1; ++o) {
        const float* p = x + o * reduce;
        double s = 0;
        if (mean) for (long r = 0; r < reduce; ++r) s += static_cast<float>(p[r] / n);
        else for (long r = 0; r < reduce; ++r) s += p[r];
        out[o] = static_cast<float>(s);
      }
    };
    long per = std::max(1L, kGrain / std::max(1L, reduce));
    long tasks = (outer + per - 1) / per;
    if (tasks <= 1 || num_threads() <= 1) f(0, outer);
    else parallel_for(static_cast<int>(tasks), [&](int t) { f(t * per, std::min(outer, (t + 1) * per)); });
    return;
  }
  // Columns: split the inner axis into fixed blocks; each accumulates in double in reduce order.
  constexpr long kBlock = 256;
  long blocks = (inner + kBlock - 1) / kBlock;
  long tasks = outer * blocks;
  auto task = [&](long t) {
    long o = t / blocks, j0 = (t % blocks) * kBlock, j1 = std::min(inner, j0 + kBlock);
    double acc[kBlock];
    for (long j = 0; j < j1 - j0; ++j) acc[j] = 0;
    acc_rows(x + o * reduce * inner + j0, reduce, inner, j1 - j0, mean, n, acc);
    for (long j = 0; j < j1 - j0; ++j) out[o * inner + j0 + j] = static_cast<float>(acc[j]);
  };
  if (tasks <= 1 || num_threads() <= 1 || outer * reduce * inner < kGrain) { for (long t = 0; t < tasks; ++t) task(t); }
  else parallel_for(static_cast<int>(tasks), [&](int t) { task(t); });
}

void reduce_max(const float* x, long outer, long reduce, long inner, float* out) {
  for (long o = 0; o < outer; ++o) {
    float* dst = out + o * inner;
    const float* p = x + o * reduce * inner;
    std::memcpy(dst, p, sizeof(float) * inner);
    for (long r = 1; r < reduce; ++r) {
      const float* row = p + r * inner;
      for (long j = 0; j < inner; ++j) {
        float v = row[j];
        if (v > dst[j] || std::isnan(v)) dst[j] = v;
      }
    }
  }
}

void arg_max(const float* x, long outer, long reduce, long inner, int32_t* out) {
  for (long o = 0; o < outer; ++o) {
    const float* p = x + o * reduce * inner;
    for (long j = 0; j < inner; ++j) {
      float best = p[j];
      int32_t idx = 0;
      for (long r = 1; r < reduce; ++r) {
        float v = p[r * inner + j];
        if (v > best) { best = v; idx = static_cast<int32_t>(r); }
      }
      out[o * inner + j] = idx;
    }
  }
}

void softmax(const float* x, long rows, long cols, float* out) {
  auto f = [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      const float* p = x + r * cols;
      float* q = out + r * cols;
      float m = p[0];
      for (long j = 1; j < cols; ++j) if (p[j] > m || std::isnan(p[j])) m = p[j];
      double s = 0;
      for (long j = 0; j < cols; ++j) {
        q[j] = static_cast<float>(std::exp(static_cast<double>(p[j] - m)));
        s += q[j];
      }
      float sf = static_cast<float>(s);
      for (long j = 0; j < cols; ++j) q[j] = q[j] / sf;
    }
  };
  long per = std::max(1L, kGrain / std::max(1L, cols));
  long tasks = (rows + per - 1) / per;
  if (tasks <= 1 || num_threads() <= 1) f(0, rows);
  else parallel_for(static_cast<int>(tasks), [&](int t) { f(t * per, std::min(rows, (t + 1) * per)); });
}

void batch_matmul(const float* a, const float* b, float* out, int batch_a, int batch_b, int m, int n, int k,
                  bool trans_a, bool trans_b, const float* bias, int bias_len, int act) {
  const int batch = std::max(batch_a, batch_b);
  const long sa = static_cast<long>(m) * k, sb = static_cast<long>(k) * n, so = static_cast<long>(m) * n;
  auto view_a = [&](int i) -> MatView {
    const float* p = a + (batch_a == 1 ? 0 : i) * sa;
    return trans_a ? MatView{p, 1, m} : MatView{p, k, 1};
  };
  auto view_b = [&](int i) -> MatView {
    const float* p = b + (batch_b == 1 ? 0 : i) * sb;
    return trans_b ? MatView{p, 1, k} : MatView{p, n, 1};
  };
  auto epilogue = [&](float* o) {
    if (!bias && act == kLinear) return;
    for (long i = 0; i < m; ++i) {
      float* r = o + i * n;
      if (bias) {
        if (bias_len == 1) for (int j = 0; j < n; ++j) r[j] += bias[0];
        else for (int j = 0; j < n; ++j) r[j] += bias[j];
      }
      if (act == kRelu) for (int j = 0; j < n; ++j) r[j] = r[j] < 0.f ? 0.f : r[j];
    }
  };
  if (batch >= num_threads() && batch > 1 && 2.0 * m * n * k < 4e6) {
    parallel_for(batch, [&](int i) {
      sgemm_serial(m, n, k, view_a(i), view_b(i), out + i * so, n, false);
      epilogue(out + i * so);
    });
    return;
  }
  for (int i = 0; i < batch; ++i) {
    sgemm(m, n, k, view_a(i), view_b(i), out + i * so, n, false);
    epilogue(out + i * so);
  }
}

}  // namespace ringtree::kernels
