// Tree algorithms (binomial) and the pipelined chain broadcast.
//
// Binomial tree on relative ranks v = (rank - root) mod P: in round k (mask = 2^k) a rank whose
// lowest set bit is `mask` sends to v - mask; ranks with v % (2*mask) == 0 receive from v + mask.
// Receives reduce into the output (the first child against the input, later children against the
// running result, each chained on the previous one); the send to the parent is chained on the last
// child, so partial sums stream up the tree while children are still sending.
#include <cstring>
#include <vector>

#include "algorithm/collectives.h"

namespace ringtree {

namespace {

struct TreeLinks {
  int parent = -1;              // real rank, -1 for the root
  std::vector<int> children;    // real ranks, in increasing mask order
};

TreeLinks binomial(int rank, int P, int root) {
  TreeLinks t;
  int v = ((rank - root) % P + P) % P;
  for (int mask = 1; mask < P; mask <<= 1) {
    if (v & mask) {
      t.parent = ((v - mask) + root) % P;
      break;
    }
    if (v + mask < P) t.children.push_back(((v + mask) + root) % P);
  }
  return t;
}

}  // namespace

void allReduceTree(Executor& ex, int rank, int P, const char* in, char* out, size_t count, size_t esize) {
  const size_t bytes = count * esize;
  TreeLinks t = binomial(rank, P, 0);
  // reduce phase
  const Req* last = nullptr;
  for (size_t i = 0; i < t.children.size(); i++) {
    bool final = t.parent < 0 && i + 1 == t.children.size();
    last = ex.recvReduce(t.children[i], out, i == 0 ? in : out, bytes, last, final);
  }
  const Req* up = nullptr;
  if (t.parent >= 0) up = ex.send(t.parent, last ? out : in, bytes, last);
  // broadcast phase: children are served in reverse order (largest subtree first)
  const Req* have = last;  // root: the final reduction
  if (t.parent >= 0) have = ex.recv(t.parent, out, bytes, up);
  for (size_t i = t.children.size(); i-- > 0;) ex.send(t.children[i], out, bytes, have);
}

void broadcastTree(Executor& ex, int rank, int P, int root, char* buf, size_t bytes) {
  TreeLinks t = binomial(rank, P, root);
  const Req* have = nullptr;
  if (t.parent >= 0) have = ex.recv(t.parent, buf, bytes);
  for (size_t i = t.children.size(); i-- > 0;) ex.send(t.children[i], buf, bytes, have);
}

void broadcastChain(Executor& ex, int rank, int P, int root, char* buf, size_t bytes) {
  int v = ((rank - root) % P + P) % P;
  const Req* have = nullptr;
  if (v > 0) have = ex.recv((rank - 1 + P) % P, buf, bytes);
  if (v < P - 1) ex.send((rank + 1) % P, buf, bytes, have);
}

void reduceTree(Executor& ex, int rank, int P, int root, char* buf, char* scratch, size_t count, size_t esize) {
  const size_t bytes = count * esize;
  TreeLinks t = binomial(rank, P, root);
  char* acc = t.parent < 0 ? buf : scratch;  // only the root writes its own buffer
  const Req* last = nullptr;
  for (size_t i = 0; i < t.children.size(); i++) {
    bool final = t.parent < 0 && i + 1 == t.children.size();
    last = ex.recvReduce(t.children[i], acc, i == 0 ? buf : acc, bytes, last, final);
  }
  if (t.parent >= 0) ex.send(t.parent, last ? acc : buf, bytes, last);
}

// Recursive halving-doubling (Rabenseifner): reduce-scatter by recursive halving (log2 P steps,
// exchanging half of the remaining range each time), then all-gather by recursive doubling.
// For P not a power of two it falls back to the ring (same bandwidth, simpler).
void allReduceRhd(Executor& ex, int rank, int P, const char* in, char* out, size_t count, size_t esize) {
  if (P & (P - 1)) {
    allReduceRing(ex, rank, P, in, out, count, esize);
    return;
  }
  // The halving phase reduces [lo, hi) against the partner's half. The first step reduces from `in`,
  // later steps from `out`; so that untouched halves of `out` never matter, we copy lazily: every
  // byte of out is written by a reduce or by the gather phase.
  struct Range { size_t lo, hi; };
  std::vector<Range> kept;
  size_t lo = 0, hi = count;
  const Req* prev = nullptr;
  int steps = 0;
  for (int mask = P >> 1; mask >= 1; mask >>= 1, steps++) {
    int partner = rank ^ mask;
    size_t mid = lo + (hi - lo) / 2;
    bool keepLow = (rank & mask) == 0;
    size_t sLo = keepLow ? mid : lo, sHi = keepLow ? hi : mid;  // half we send
    size_t kLo = keepLow ? lo : mid, kHi = keepLow ? mid : hi;  // half we keep and reduce
    const char* src = steps == 0 ? in : out;
    // the half we send was produced by the previous step's reduce (same range superset): chain on it
    Executor::whole(ex.send(partner, src + sLo * esize, (sHi - sLo) * esize, prev));
    bool final = mask == 1;
    prev = Executor::whole(ex.recvReduce(partner, out + kLo * esize, (steps == 0 ? in : out) + kLo * esize,
                                         (kHi - kLo) * esize, prev, final));
    kept.push_back({lo, hi});
    lo = kLo;
    hi = kHi;
  }
  // doubling phase: exchange the owned range with the same partners in reverse order
  for (int mask = 1, i = steps - 1; mask < P; mask <<= 1, i--) {
    int partner = rank ^ mask;
    size_t pLo = kept[i].lo, pHi = kept[i].hi;
    size_t mid = pLo + (pHi - pLo) / 2;
    bool keepLow = (rank & mask) == 0;
    size_t oLo = keepLow ? pLo : mid, oHi = keepLow ? mid : pHi;   // what we own
    size_t rLo = keepLow ? mid : pLo, rHi = keepLow ? pHi : mid;   // what partner owns
    Executor::whole(ex.send(partner, out + oLo * esize, (oHi - oLo) * esize, prev));
    prev = ex.recv(partner, out + rLo * esize, (rHi - rLo) * esize);
  }
}

}  // namespace ringtree
