// Tunables read once from the environment (NCCL_PARAM style):
//   RINGTREE_PARAM(ShmRingBytes, "SHM_RING_BYTES", 4 << 20) defines int64_t paramShmRingBytes(),
//   which reads RINGTREE_SHM_RING_BYTES on first use and caches it. Every knob is listed in docs/env.md.
#pragma once

#include <cstdint>

namespace ringtree {
int64_t readParam(const char* envSuffix, int64_t defaultValue);
}  // namespace ringtree

#define RINGTREE_PARAM(name, env, deflt)                                     \
  inline int64_t param##name() {                                             \
    static const int64_t value = ::ringtree::readParam(env, (deflt));        \
    return value;                                                            \
  }
