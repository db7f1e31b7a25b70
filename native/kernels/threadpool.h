// Persistent intra-op thread pool for the tfjs kernels. Workers sleep on a condition variable between
// jobs (no spinning). Work is split into tasks whose results never depend on which thread runs them,
// so every kernel is bitwise deterministic for any thread count.
#pragma once
#include <functional>

namespace ringtree::kernels {

/** Threads used by parallel_for (the caller counts as one). */
int num_threads();
/** Sets the thread count (>= 1); extra workers are started lazily and kept asleep. */
void set_num_threads(int n);
/** Default from RINGTREE_NUM_THREADS, else cores / local ranks (LOCAL_WORLD_SIZE and friends), min 1. */
int default_num_threads();
/** Runs fn(task) for task in [0, ntasks). Nested calls and ntasks <= 1 run inline. */
void parallel_for(int ntasks, const std::function<void(int)>& fn);

}  // namespace ringtree::kernels
