// AVX2 rows of exactly tiled max pools (pool_avx2.cc, built with -mavx2). Call only when
// pool_avx2_ok() and the channel count is a multiple of 8.
#pragma once
#include <cstdint>

namespace ringtree::kernels {

bool pool_avx2_ok();
void max_pool_row_tiled_avx2(const float* xb, int in_w, int C, int fh, int fw, int oy, int out_w, float* y,
                             int32_t* pos);
void max_pool_grad_row_tiled_avx2(const float* dy, const int32_t* pos, int in_w, int C, int fh, int fw, int oy,
                                  int out_w, float* dxb);

}  // namespace ringtree::kernels
