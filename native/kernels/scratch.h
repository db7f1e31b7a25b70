// Grow-only, 64-byte aligned scratch buffers. Thread-local ones live as long as their (persistent)
// thread, so the hot loop never allocates or faults pages in after the first step.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace ringtree::kernels {

class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(p_); }
  float* get(size_t n) {
    if (n > cap_) {
      std::free(p_);
      size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
      p_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p_) std::abort();
      cap_ = bytes / sizeof(float);
      std::memset(p_, 0, bytes);  // fault the pages in once, here
    }
    return p_;
  }

 private:
  float* p_ = nullptr;
  size_t cap_ = 0;
};

/** Per-thread scratch slots (slot 0..3), for use inside one task. */
float* thread_scratch(int slot, size_t n);

}  // namespace ringtree::kernels
