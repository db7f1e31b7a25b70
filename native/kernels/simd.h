// Function multi-versioning for the kernels' memory-bound loops: a function marked RINGTREE_SIMD is
// compiled for AVX2 and for baseline x86-64 and the loader picks one (GCC target_clones / ifunc).
// The hot loops live in such free functions taking __restrict pointers, not in the lambdas handed to
// parallel_for: a lambda is called through std::function at the baseline ISA, and loops over
// pointers captured by reference do not vectorize. AVX2 without FMA gives the same IEEE results as
// SSE2 for these loops, so the clone chosen never changes a value.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__) && \
    !defined(__SANITIZE_ADDRESS__)
#define RINGTREE_SIMD __attribute__((target_clones("avx2", "default")))
#else
#define RINGTREE_SIMD
#endif
