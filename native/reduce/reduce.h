// Element-wise reductions, type-erased (Gloo math.h style): dst[i] = a[i] OP b[i], n elements.
// dst may alias a or b. avg reduces as sum on every hop; finalizeAvg divides once at the end, on the
// one rank that owns the final value, so every rank ends with bit-identical results.
// float16 / bfloat16 are stored as uint16 and reduced in float32 precision per hop, rounded to
// nearest even when stored.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/types.h"

namespace ringtree {

using ReduceFn = void (*)(void* dst, const void* a, const void* b, size_t n);

// The kernel for (dtype, op); avg maps to sum.
ReduceFn reduceFunction(DataType dtype, ReduceOp op);

// p[i] /= divisor (integers truncate toward zero, as C division does).
void finalizeAvg(DataType dtype, void* p, size_t n, int divisor);

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
float bf16ToFloat(uint16_t h);
uint16_t floatToBf16(float f);

}  // namespace ringtree
