#include "reduce/reduce.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ringtree {

// ---- half precision conversions (IEEE 754 binary16 and bfloat16), round to nearest even ----

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      mant &= 0x3ffu;
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | mant << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;  // inf / nan (payload kept)
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) {  // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u | ((absx >> 13) & 0x3ffu) : 0));
  }
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (absx < 0x38800000u) {  // result is subnormal or zero
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);  // < 2^-25 rounds to 0
    uint32_t exp = absx >> 23;
    uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - exp;  // 14..24 : value = mant * 2^(exp-150); half ulp = 2^-24
    uint32_t q = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1))) q++;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t r = absx + 0xfffu + ((absx >> 13) & 1u);  // round to nearest even on bit 13
  return static_cast<uint16_t>(sign | ((r - 0x38000000u) >> 13));
}

float bf16ToFloat(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet nan
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

namespace {

// Plain loops over restrict-free pointers: GCC -O3 vectorises them (dst may alias a or b, which
// only rules out the restrict qualifier, not vectorisation of an element-wise loop).
template <typename T>
struct Sum { static T apply(T a, T b) { return a + b; } };
template <typename T>
struct Prod { static T apply(T a, T b) { return a * b; } };
template <typename T>
struct Min { static T apply(T a, T b) { return b < a ? b : a; } };
template <typename T>
struct Max { static T apply(T a, T b) { return a < b ? b : a; } };

// Integer sum/prod wrap modulo 2^bits (computed unsigned to avoid signed-overflow UB).
template <typename T, typename U>
struct WrapSum { static T apply(T a, T b) { return static_cast<T>(static_cast<U>(a) + static_cast<U>(b)); } };
template <typename T, typename U>
struct WrapProd { static T apply(T a, T b) { return static_cast<T>(static_cast<U>(a) * static_cast<U>(b)); } };

// Compiled for AVX2 and baseline x86-64, picked at load time (GCC function multi-versioning).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#define RINGTREE_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define RINGTREE_MULTIVERSION
#endif

template <typename T, typename Op>
RINGTREE_MULTIVERSION void kernel(void* dst, const void* a, const void* b, size_t n) {
  T* d = static_cast<T*>(dst);
  const T* x = static_cast<const T*>(a);
  const T* y = static_cast<const T*>(b);
  for (size_t i = 0; i < n; i++) d[i] = Op::apply(x[i], y[i]);
}

// NaN propagation for float min/max: like fmin/fmax? We follow the C++ comparison semantics of
// std::min/std::max applied in a fixed order (a OP b), which is deterministic on every rank because
// each element's final value is computed once.

template <float (*Load)(uint16_t), uint16_t (*Store)(float), typename Op>
void halfKernel(void* dst, const void* a, const void* b, size_t n) {
  uint16_t* d = static_cast<uint16_t*>(dst);
  const uint16_t* x = static_cast<const uint16_t*>(a);
  const uint16_t* y = static_cast<const uint16_t*>(b);
  for (size_t i = 0; i < n; i++) d[i] = Store(Op::apply(Load(x[i]), Load(y[i])));
}

template <typename T>
ReduceFn floatFns(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: case ReduceOp::kAvg: return kernel<T, Sum<T>>;
    case ReduceOp::kProd: return kernel<T, Prod<T>>;
    case ReduceOp::kMin: return kernel<T, Min<T>>;
    case ReduceOp::kMax: return kernel<T, Max<T>>;
  }
  return nullptr;
}

template <typename T, typename U>
ReduceFn intFns(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: case ReduceOp::kAvg: return kernel<T, WrapSum<T, U>>;
    case ReduceOp::kProd: return kernel<T, WrapProd<T, U>>;
    case ReduceOp::kMin: return kernel<T, Min<T>>;
    case ReduceOp::kMax: return kernel<T, Max<T>>;
  }
  return nullptr;
}

template <float (*Load)(uint16_t), uint16_t (*Store)(float)>
ReduceFn halfFns(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: case ReduceOp::kAvg: return halfKernel<Load, Store, Sum<float>>;
    case ReduceOp::kProd: return halfKernel<Load, Store, Prod<float>>;
    case ReduceOp::kMin: return halfKernel<Load, Store, Min<float>>;
    case ReduceOp::kMax: return halfKernel<Load, Store, Max<float>>;
  }
  return nullptr;
}

template <typename T>
void divideAll(void* p, size_t n, int divisor) {
  T* d = static_cast<T*>(p);
  const T div = static_cast<T>(divisor);
  for (size_t i = 0; i < n; i++) d[i] = d[i] / div;
}

template <float (*Load)(uint16_t), uint16_t (*Store)(float)>
void divideHalf(void* p, size_t n, int divisor) {
  uint16_t* d = static_cast<uint16_t*>(p);
  const float div = static_cast<float>(divisor);
  for (size_t i = 0; i < n; i++) d[i] = Store(Load(d[i]) / div);
}

}  // namespace

ReduceFn reduceFunction(DataType dtype, ReduceOp op) {
  switch (dtype) {
    case DataType::kFloat32: return floatFns<float>(op);
    case DataType::kFloat64: return floatFns<double>(op);
    case DataType::kInt32: return intFns<int32_t, uint32_t>(op);
    case DataType::kUint32: return intFns<uint32_t, uint32_t>(op);
    case DataType::kInt64: return intFns<int64_t, uint64_t>(op);
    case DataType::kUint8: return intFns<uint8_t, uint32_t>(op);
    case DataType::kInt8: return intFns<int8_t, uint32_t>(op);
    case DataType::kFloat16: return halfFns<halfToFloat, floatToHalf>(op);
    case DataType::kBfloat16: return halfFns<bf16ToFloat, floatToBf16>(op);
  }
  return nullptr;
}

void finalizeAvg(DataType dtype, void* p, size_t n, int divisor) {
  if (divisor == 1) return;
  switch (dtype) {
    case DataType::kFloat32: return divideAll<float>(p, n, divisor);
    case DataType::kFloat64: return divideAll<double>(p, n, divisor);
    case DataType::kInt32: return divideAll<int32_t>(p, n, divisor);
    case DataType::kUint32: return divideAll<uint32_t>(p, n, divisor);
    case DataType::kInt64: return divideAll<int64_t>(p, n, divisor);
    case DataType::kUint8: return divideAll<uint8_t>(p, n, divisor);
    case DataType::kInt8: return divideAll<int8_t>(p, n, divisor);
    case DataType::kFloat16: return divideHalf<halfToFloat, floatToHalf>(p, n, divisor);
    case DataType::kBfloat16: return divideHalf<bf16ToFloat, floatToBf16>(p, n, divisor);
  }
}

}  // namespace ringtree
