// The executor moves the bytes of one collective. An algorithm posts requests (send / receive /
// receive-and-reduce) with optional byte-level dependencies, then run() drives every stream until
// all requests complete:
//   * requests on one stream (peer, channel, direction) run in FIFO order;
//   * a request with `dep` may only process bytes that `dep` has already finished, so step k+1 of a
//     ring forwards the prefix that step k has reduced while step k is still receiving the rest:
//     the whole collective is pipelined at byte granularity with no staging beyond the streams.
// Every message starts with a 64-byte header carrying the op's fingerprint (seq, op, dtype, count,
// reduce op, root, algorithm), so ranks that issued different ops fail with kMismatch naming both
// sides instead of exchanging garbage. Payloads are padded to 8 bytes so elements never straddle a
// ring's wrap point.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "core/types.h"
#include "reduce/reduce.h"
#include "transport/socket.h"

namespace ringtree {

class Communicator;

struct MsgHeader {
  uint32_t magic;
  uint8_t kind;  // 0 collective, 1 point-to-point
  uint8_t op;
  uint8_t dtype;
  uint8_t redop;
  uint8_t algo;
  uint8_t pad0[3];
  int32_t root;
  uint32_t tag;
  uint32_t srcRank;
  uint32_t step;
  uint64_t seq;
  uint64_t count;
  uint64_t bytes;
  uint64_t reserved;
};
static_assert(sizeof(MsgHeader) == 64, "wire header is 64 bytes");
constexpr uint32_t kMsgMagic = 0x314d5452;  // "RTM1"

struct Req {
  bool isSend = false;
  int peer = -1;
  int channel = 0;
  MsgHeader hdr{};  // to send, or expected
  MsgHeader got{};  // received
  size_t hdrDone = 0;
  bool hdrChecked = false;
  const char* src = nullptr;
  char* dst = nullptr;
  const char* local = nullptr;
  size_t bytes = 0;
  size_t done = 0;
  size_t pad = 0;
  size_t padDone = 0;
  bool reduce = false;
  bool avgFinal = false;
  ReduceFn fn = nullptr;
  DataType dtype = DataType::kUint8;
  size_t esize = 1;
  int avgDivisor = 1;
  const Req* dep = nullptr;
  bool depWhole = false;  // dep must complete first (ranges that do not start at the same byte)
  bool complete = false;
  // small messages go out as one contiguous write [header | payload | pad] (one syscall / one
  // ring publish instead of three)
  size_t packedSize = 0;  // bytes of [header | payload | pad] staged in Pair::packBuf
  size_t packedDone = 0;
  // point-to-point: a message with another tag arrived first and is being read into the stash
  bool stashing = false;
  std::vector<char> stashBuf;
  size_t stashDone = 0;
};

// Describes the op for headers and error messages.
struct OpFingerprint {
  OpType op;
  DataType dtype;
  ReduceOp redop;
  Algo algo;
  int root;
  uint64_t count;
  uint64_t seq;
};

std::string describeOp(const OpFingerprint& f);

class Executor {
 public:
  Executor(Communicator& comm, const OpFingerprint& fp, Deadline deadline);

  Req* send(int peer, const void* src, size_t bytes, const Req* dep = nullptr, int channel = 0);
  Req* recv(int peer, void* dst, size_t bytes, const Req* dep = nullptr, int channel = 0);
  Req* recvReduce(int peer, void* dst, const void* local, size_t bytes, const Req* dep, bool avgFinal);
  void setTag(Req* r, uint32_t tag) { r->hdr.tag = tag; }
  // Marks r's dependency as whole-message (r waits until dep completes).
  static Req* whole(Req* r) { r->depWhole = true; return r; }

  // Drives all posted requests to completion; throws ringtree::Error on failure.
  void run();
  // Point-to-point batches: `absorb` is called when the executor would otherwise wait (and before it
  // finishes) so it can add more requests with add*(); `onComplete` runs for every request that
  // completes. Lets a send and a recv issued together progress together (no FIFO deadlock).
  void setAbsorb(std::function<void()> absorb) { absorb_ = std::move(absorb); }
  void setOnComplete(std::function<void(Req*)> onComplete) { onComplete_ = std::move(onComplete); }
  void extendDeadline(Deadline d) { if (d > deadline_) deadline_ = d; }

  // Spins (never sleeps) until done, or until no byte moved for `idle`, or `total` passed; true when
  // done. Resumable: a later run() or runFor() continues where this one stopped (the inline fast
  // path hands off this way).
  bool runFor(std::chrono::microseconds idle, std::chrono::microseconds total);

 private:
  void prepare();
  bool sweep();
  bool progress(Req& r);
  bool progressSend(Req& r);
  bool progressRecv(Req& r);
  void checkHeader(Req& r);
  bool takeFromStash(Req& r);
  void checkHealth(const std::vector<int>& peers);
  bool readCtrl(int peer);  // true on EOF; throws on an abort notice or a mismatching probe
  void explainPeerFailure(int peer);
  bool checkedSweep();
  void sendProbes(const std::vector<int>& peers);
  std::string mismatchMessage(int peer, const OpFingerprint& theirs) const;
  static bool sameOp(const OpFingerprint& a, const OpFingerprint& b);

  Communicator& comm_;
  OpFingerprint fp_;
  Deadline deadline_;
  std::deque<Req> reqs_;
  uint32_t step_ = 0;
  bool prepared_ = false;
  std::function<void()> absorb_;
  std::function<void(Req*)> onComplete_;
  void enlist(Req& r);
  // FIFO without per-op allocations for empty queues (std::deque allocates when constructed)
  struct ReqQueue {
    std::vector<Req*> items;
    size_t head = 0;
    bool empty() const { return head == items.size(); }
    Req* front() const { return items[head]; }
    void pop_front() { head++; }
    void push_back(Req* r) { items.push_back(r); }
  };
  std::vector<ReqQueue> queues_;  // one FIFO per (peer, channel, direction)
  std::vector<size_t> active_;            // indices of non-empty queues
};

}  // namespace ringtree
