// Single-precision GEMM: C[M,N] (+)= A[M,K] * B[K,N], operands given as strided views so transposes
// cost nothing. BLIS-style: B packed into KCxNR panels, A into MRxKC panels, register-blocked
// micro-kernel (AVX2/FMA 6x16 when the CPU has it, portable otherwise), chosen at run time.
// Every C element is the same chain of operations whatever the tiling of M and N, and threads split
// only M or N (never K), so results are bitwise identical for any thread count.
#pragma once
#include <cstddef>

namespace ringtree::kernels {

struct MatView {
  const float* p;
  long rs;  // stride between rows
  long cs;  // stride between columns
};

/** One thread. accumulate: C += A*B, else C = A*B. */
void sgemm_serial(int M, int N, int K, MatView A, MatView B, float* C, long ldc, bool accumulate);
/** Uses the pool: splits M or N into even pieces. */
void sgemm(int M, int N, int K, MatView A, MatView B, float* C, long ldc, bool accumulate);

/** "avx2-fma-6x16", "portable-4x8" or "openblas" (the implementation sgemm uses now). */
const char* gemm_name();
/** 0 = auto (RINGTREE_BLAS env, else own kernel), 1 = own kernel, 2 = OpenBLAS (if compiled in), 3 = portable. */
bool set_gemm_impl(int impl);
bool have_openblas();

// Micro-kernel interface (implemented per ISA).
// a: element (i, k) of the MRxkc A panel is a[min(i, m-1) * ars + k * acs] (packed: ars 1, acs MR; or the
// unpacked source matrix); b: kcxNR panel with row stride brs (packed: NR; or the source when its rows
// are contiguous and the panel is full); rows >= m and columns >= n of the tile are not stored.
using MicroKernel = void (*)(int kc, const float* a, long ars, long acs, const float* b, long brs, float* c,
                             long ldc, bool accumulate, int m, int n);
struct MicroKernelInfo {
  int mr, nr;
  MicroKernel fn;
  const char* name;
};
bool avx2_kernel(MicroKernelInfo* out);    // gemm_avx2.cc (compiled with -mavx2 -mfma)

}  // namespace ringtree::kernels
