// Ring algorithms: all-reduce, all-gather, reduce-scatter.
//
// All-reduce on P ranks splits the buffer into P blocks. Reduce-scatter phase, step s = 0..P-2:
// rank r sends block (r - s) mod P to its right neighbour and receives block (r - s - 1) mod P from
// its left, reducing it with its own input into `out`. The block received at step s is exactly the
// block sent at step s + 1, so each send depends (byte-wise) on the previous receive: bytes flow
// around the ring as soon as they are reduced. After P-1 steps rank r owns the final block
// (r + 1) mod P (divided by P here for avg, once, so every rank gets bit-identical values). The
// all-gather phase circulates the final blocks the same way, copying instead of reducing.
#include "algorithm/collectives.h"

#include <cstring>
#include <vector>

namespace ringtree {

static inline int mod(int a, int P) { return ((a % P) + P) % P; }

void allReduceRing(Executor& ex, int rank, int P, const char* in, char* out, size_t count, size_t esize) {
  const int right = mod(rank + 1, P), left = mod(rank - 1, P);
  Blocks b{count, static_cast<size_t>(P)};
  auto at = [&](const char* base, int blk) { return base + b.start(blk) * esize; };
  auto bytes = [&](int blk) { return b.size(blk) * esize; };
  const Req* prev = nullptr;
  for (int s = 0; s < P - 1; s++) {
    int sendBlk = mod(rank - s, P), recvBlk = mod(rank - s - 1, P);
    const char* src = s == 0 ? at(in, sendBlk) : at(out, sendBlk);
    ex.send(right, src, bytes(sendBlk), prev);
    prev = ex.recvReduce(left, const_cast<char*>(at(out, recvBlk)), at(in, recvBlk), bytes(recvBlk), nullptr,
                         /*avgFinal=*/s == P - 2);
  }
  for (int s = 0; s < P - 1; s++) {
    int sendBlk = mod(rank + 1 - s, P), recvBlk = mod(rank - s, P);
    ex.send(right, at(out, sendBlk), bytes(sendBlk), prev);
    prev = ex.recv(left, const_cast<char*>(at(out, recvBlk)), bytes(recvBlk));
  }
}

void allGatherRing(Executor& ex, int rank, int P, const char* send, char* recv, size_t count, size_t esize) {
  const int right = mod(rank + 1, P), left = mod(rank - 1, P);
  const size_t blk = count * esize;
  char* own = recv + static_cast<size_t>(rank) * blk;
  if (own != send && blk) std::memmove(own, send, blk);
  const Req* prev = nullptr;
  for (int s = 0; s < P - 1; s++) {
    int sendBlk = mod(rank - s, P), recvBlk = mod(rank - s - 1, P);
    ex.send(right, recv + static_cast<size_t>(sendBlk) * blk, blk, prev);
    prev = ex.recv(left, recv + static_cast<size_t>(recvBlk) * blk, blk);
  }
}

// Reduce-scatter: the allReduce schedule shifted by one block so rank r finishes with block r.
// Step s sends block (r - s - 1) and receives block (r - s - 2); partial sums live in `scratch`
// (the input stays untouched), the final block goes straight to `recv`.
void reduceScatterRing(Executor& ex, int rank, int P, const char* send, char* recv, char* scratch, size_t count,
                       size_t esize) {
  const int right = mod(rank + 1, P), left = mod(rank - 1, P);
  const size_t blk = count * esize;
  auto in = [&](int b) { return send + static_cast<size_t>(b) * blk; };
  auto tmp = [&](int b) { return scratch + static_cast<size_t>(b) * blk; };
  const Req* prev = nullptr;
  for (int s = 0; s < P - 1; s++) {
    int sendBlk = mod(rank - s - 1, P), recvBlk = mod(rank - s - 2, P);
    const char* src = s == 0 ? in(sendBlk) : tmp(sendBlk);
    ex.send(right, src, blk, prev);
    bool last = s == P - 2;
    char* dst = last ? recv : tmp(recvBlk);
    prev = ex.recvReduce(left, dst, in(recvBlk), blk, nullptr, last);
  }
}

}  // namespace ringtree
