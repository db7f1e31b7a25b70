// Collective schedules. Each function only posts requests on an Executor (Gloo-style: the algorithm
// never knows whether a peer is reached over shared memory or TCP); Executor::run() moves the bytes.
// Buffers are byte pointers; counts are elements of `esize` bytes.
#pragma once

#include <cstddef>

#include "core/executor.h"

namespace ringtree {

// Splits `count` elements into `parts` contiguous blocks: the first count % parts blocks get one
// extra element. Block i starts at blockStart(i).
struct Blocks {
  size_t count, parts;
  size_t size(size_t i) const { return count / parts + (i < count % parts ? 1 : 0); }
  size_t start(size_t i) const { return i * (count / parts) + (i < count % parts ? i : count % parts); }
};

// Ring all-reduce: reduce-scatter then all-gather around the ring, every step's send chained on the
// previous step's receive so the ring is pipelined at byte granularity. Bandwidth-optimal:
// each rank sends 2(P-1)/P of the buffer.
void allReduceRing(Executor& ex, int rank, int P, const char* in, char* out, size_t count, size_t esize);

// Binomial-tree all-reduce: reduce to rank 0, then broadcast; log2(P) latency, for small messages.
void allReduceTree(Executor& ex, int rank, int P, const char* in, char* out, size_t count, size_t esize);

// Recursive halving-doubling (Rabenseifner) for power-of-two P; others fall back to the ring.
void allReduceRhd(Executor& ex, int rank, int P, const char* in, char* out, size_t count, size_t esize);

// Broadcast from root: binomial tree (small) or pipelined chain root -> root+1 -> ... (large).
void broadcastTree(Executor& ex, int rank, int P, int root, char* buf, size_t bytes);
void broadcastChain(Executor& ex, int rank, int P, int root, char* buf, size_t bytes);

// Reduce to root (in place on root; other ranks' buffers are left unchanged, partial results go
// to `scratch`, which must hold `count` elements).
void reduceTree(Executor& ex, int rank, int P, int root, char* buf, char* scratch, size_t count, size_t esize);

// All-gather (ring): recv holds P blocks of `count` elements; block r comes from rank r.
void allGatherRing(Executor& ex, int rank, int P, const char* send, char* recv, size_t count, size_t esize);

// Reduce-scatter (ring): send holds P blocks of `count`; rank r gets the reduction of block r.
// `scratch` must hold P * count elements.
void reduceScatterRing(Executor& ex, int rank, int P, const char* send, char* recv, char* scratch, size_t count,
                       size_t esize);

// Chooses an algorithm for 'auto' from message size and world size (latency-bandwidth cost model:
// tree costs ~log2(P) * (alpha + n*beta), ring 2(P-1) * alpha + 2(P-1)/P * n * beta).
Algo selectAllReduce(size_t bytes, int P);
Algo selectBroadcast(size_t bytes, int P);
// RINGTREE_ALGO overrides 'auto': "ring", "tree", "rhd", or per op "allreduce:tree,broadcast:ring".
Algo algoOverride(OpType op);

}  // namespace ringtree
