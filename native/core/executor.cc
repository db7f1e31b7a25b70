#include "core/executor.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <cstring>

#include "common/error.h"
#include "common/logging.h"
#include "common/params.h"
#include "core/communicator.h"
#include "core/control.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RINGTREE_CPU_RELAX() _mm_pause()
#else
#define RINGTREE_CPU_RELAX() \
  do {                       \
  } while (0)
#endif

namespace ringtree {

namespace {
constexpr size_t kHdr = sizeof(MsgHeader);
const char kZeros[8] = {0};
}  // namespace

std::string describeOp(const OpFingerprint& f) {
  switch (f.op) {
    case OpType::kAllReduce:
      return strprintf("allReduce(%s x %llu, %s, %s)", dtypeName(f.dtype), static_cast<unsigned long long>(f.count),
                       reduceOpName(f.redop), algoName(f.algo));
    case OpType::kReduce:
      return strprintf("reduce(%s x %llu, %s, root %d)", dtypeName(f.dtype), static_cast<unsigned long long>(f.count),
                       reduceOpName(f.redop), f.root);
    case OpType::kBroadcast:
      return strprintf("broadcast(%s x %llu, root %d, %s)", dtypeName(f.dtype),
                       static_cast<unsigned long long>(f.count), f.root, algoName(f.algo));
    case OpType::kAllGather:
      return strprintf("allGather(%s x %llu per rank)", dtypeName(f.dtype), static_cast<unsigned long long>(f.count));
    case OpType::kReduceScatter:
      return strprintf("reduceScatter(%s x %llu per rank, %s)", dtypeName(f.dtype),
                       static_cast<unsigned long long>(f.count), reduceOpName(f.redop));
    case OpType::kBarrier:
      return "barrier()";
    case OpType::kSend:
      return strprintf("send(%s x %llu)", dtypeName(f.dtype), static_cast<unsigned long long>(f.count));
    case OpType::kRecv:
      return strprintf("recv(%s x %llu)", dtypeName(f.dtype), static_cast<unsigned long long>(f.count));
  }
  return "?";
}

Executor::Executor(Communicator& comm, const OpFingerprint& fp, Deadline deadline)
    : comm_(comm), fp_(fp), deadline_(deadline) {}

static void fillHeader(MsgHeader& h, const OpFingerprint& fp, int channel, int src, uint32_t step, size_t bytes) {
  std::memset(&h, 0, sizeof(h));
  h.magic = kMsgMagic;
  h.kind = static_cast<uint8_t>(channel == kChannelP2P ? 1 : 0);
  h.op = static_cast<uint8_t>(fp.op);
  h.dtype = static_cast<uint8_t>(fp.dtype);
  h.redop = static_cast<uint8_t>(fp.redop);
  h.algo = static_cast<uint8_t>(fp.algo);
  h.root = fp.root;
  h.srcRank = static_cast<uint32_t>(src);
  h.step = step;
  h.seq = fp.seq;
  h.count = fp.count;
  h.bytes = bytes;
}

void Executor::enlist(Req& r) {
  size_t qi = (static_cast<size_t>(r.peer) * kNumChannels + r.channel) * 2 + (r.isSend ? 1 : 0);
  if (queues_[qi].empty()) active_.push_back(qi);
  queues_[qi].push_back(&r);
}

Req* Executor::send(int peer, const void* src, size_t bytes, const Req* dep, int channel) {
  reqs_.emplace_back();
  Req& r = reqs_.back();
  r.isSend = true;
  r.peer = peer;
  r.channel = channel;
  r.src = static_cast<const char*>(src);
  r.bytes = bytes;
  r.pad = (8 - bytes % 8) % 8;
  r.dep = dep;
  fillHeader(r.hdr, fp_, channel, comm_.rank(), step_++, bytes);
  if (prepared_) enlist(r);
  return &r;
}

Req* Executor::recv(int peer, void* dst, size_t bytes, const Req* dep, int channel) {
  reqs_.emplace_back();
  Req& r = reqs_.back();
  r.isSend = false;
  r.peer = peer;
  r.channel = channel;
  r.dst = static_cast<char*>(dst);
  r.bytes = bytes;
  r.pad = (8 - bytes % 8) % 8;
  r.dep = dep;
  fillHeader(r.hdr, fp_, channel, peer, step_++, bytes);
  if (prepared_) enlist(r);
  return &r;
}

Req* Executor::recvReduce(int peer, void* dst, const void* local, size_t bytes, const Req* dep, bool avgFinal) {
  Req* r = recv(peer, dst, bytes, dep, kChannelColl);
  r->reduce = true;
  r->local = static_cast<const char*>(local);
  r->fn = reduceFunction(fp_.dtype, fp_.redop);
  r->dtype = fp_.dtype;
  r->esize = dtypeSize(fp_.dtype);
  r->avgFinal = avgFinal && fp_.redop == ReduceOp::kAvg;
  r->avgDivisor = comm_.size();
  return r;
}

// ------------------------------------------------------------------ progress

static size_t depLimit(const Req& r) {
  if (!r.dep) return r.bytes;
  if (r.depWhole) return r.dep->complete ? r.bytes : 0;
  return std::min(r.dep->done, r.bytes);
}

bool Executor::progressSend(Req& r) {
  Stream& s = *comm_.pair(r.peer).send[r.channel];
  bool progressed = false;
  // An empty message chained on another request is a pure notification (barrier, zero-count ops):
  // it must not leave before what it depends on is complete. Non-empty messages may send their
  // header early: their payload bytes carry the dependency.
  if (r.bytes == 0 && r.dep && !r.dep->complete) return false;
  constexpr size_t kPackLimit = 4096;
  if (r.packedSize == 0 && r.hdrDone == 0 && r.bytes + r.pad <= kPackLimit && depLimit(r) >= r.bytes) {
    // one contiguous write; the pair's per-channel buffer is free: only the head request of a
    // stream ever writes, and it finishes before the next one starts
    std::vector<char>& buf = comm_.pair(r.peer).packBuf[r.channel];
    r.packedSize = kHdr + r.bytes + r.pad;
    if (buf.size() < r.packedSize) buf.resize(kHdr + kPackLimit);
    std::memcpy(buf.data(), &r.hdr, kHdr);
    if (r.bytes) std::memcpy(buf.data() + kHdr, r.src, r.bytes);
    std::memset(buf.data() + kHdr + r.bytes, 0, r.pad);
  }
  if (r.packedSize != 0) {
    const char* packed = comm_.pair(r.peer).packBuf[r.channel].data();
    while (r.packedDone < r.packedSize) {
      size_t k = s.write(packed + r.packedDone, r.packedSize - r.packedDone);
      if (k == 0) return progressed;
      r.packedDone += k;
      progressed = true;
    }
    r.hdrDone = kHdr;
    r.done = r.bytes;
    r.padDone = r.pad;
    r.complete = true;
    return true;
  }
  while (r.hdrDone < kHdr) {
    size_t k = s.write(reinterpret_cast<const char*>(&r.hdr) + r.hdrDone, kHdr - r.hdrDone);
    if (k == 0) return progressed;
    r.hdrDone += k;
    progressed = true;
  }
  size_t limit = depLimit(r);
  while (r.done < limit) {
    size_t k = s.write(r.src + r.done, limit - r.done);
    if (k == 0) return progressed;
    r.done += k;
    progressed = true;
  }
  if (r.done < r.bytes) return progressed;
  while (r.padDone < r.pad) {
    size_t k = s.write(kZeros, r.pad - r.padDone);
    if (k == 0) return progressed;
    r.padDone += k;
    progressed = true;
  }
  r.complete = true;
  return true;
}

void Executor::checkHeader(Req& r) {
  const MsgHeader& g = r.got;
  const MsgHeader& e = r.hdr;
  if (g.magic != kMsgMagic) {
    throw Error(ErrorCode::kInternal,
                strprintf("corrupt stream from rank %d (bad message magic 0x%08x)", r.peer, g.magic), r.peer);
  }
  if (r.channel == kChannelP2P) return;  // tags/sizes are matched by progressRecv
  bool same = g.kind == e.kind && g.op == e.op && g.dtype == e.dtype && g.seq == e.seq && g.count == e.count &&
              (g.redop == e.redop || (e.op != static_cast<uint8_t>(OpType::kAllReduce) &&
                                      e.op != static_cast<uint8_t>(OpType::kReduce) &&
                                      e.op != static_cast<uint8_t>(OpType::kReduceScatter))) &&
              g.root == e.root && g.algo == e.algo && g.bytes == e.bytes;
  if (!same) {
    OpFingerprint theirs{static_cast<OpType>(g.op), static_cast<DataType>(g.dtype), static_cast<ReduceOp>(g.redop),
                         static_cast<Algo>(g.algo), g.root, g.count, g.seq};
    throw Error(ErrorCode::kMismatch, mismatchMessage(r.peer, theirs), r.peer);
  }
}

bool Executor::takeFromStash(Req& r) {
  auto& stash = comm_.pair(r.peer).stash;
  for (auto it = stash.begin(); it != stash.end(); ++it) {
    if (it->tag != r.hdr.tag) continue;
    if (it->bytes != r.bytes) {
      throw Error(ErrorCode::kMismatch,
                  strprintf("recv from rank %d with tag %u expects %zu bytes, but the message sent has %llu bytes",
                            r.peer, r.hdr.tag, r.bytes, static_cast<unsigned long long>(it->bytes)),
                  r.peer);
    }
    if (r.bytes) std::memcpy(r.dst, it->data.data(), r.bytes);
    stash.erase(it);
    r.done = r.bytes;
    r.complete = true;
    return true;
  }
  return false;
}

bool Executor::progressRecv(Req& r) {
  Pair& p = comm_.pair(r.peer);
  Stream& s = *p.recv[r.channel];
  bool progressed = false;
  if (r.channel == kChannelP2P && r.hdrDone == 0 && !r.stashing && takeFromStash(r)) return true;
  for (;;) {
    while (r.hdrDone < kHdr) {
      size_t k = s.read(reinterpret_cast<char*>(&r.got) + r.hdrDone, kHdr - r.hdrDone);
      if (k == 0) return progressed;
      r.hdrDone += k;
      progressed = true;
    }
    if (!r.hdrChecked) {
      checkHeader(r);
      if (r.channel == kChannelP2P && r.got.tag != r.hdr.tag) {
        r.stashing = true;
        r.stashBuf.assign(r.got.bytes + (8 - r.got.bytes % 8) % 8, 0);
        r.stashDone = 0;
      } else if (r.channel == kChannelP2P && r.got.bytes != r.bytes) {
        throw Error(ErrorCode::kMismatch,
                    strprintf("recv from rank %d with tag %u expects %zu bytes, but the message sent has %llu bytes",
                              r.peer, r.hdr.tag, r.bytes, static_cast<unsigned long long>(r.got.bytes)),
                    r.peer);
      }
      r.hdrChecked = true;
    }
    if (!r.stashing) break;
    // read a message for another tag into the stash, then look for the next header
    while (r.stashDone < r.stashBuf.size()) {
      size_t k = s.read(r.stashBuf.data() + r.stashDone, r.stashBuf.size() - r.stashDone);
      if (k == 0) return progressed;
      r.stashDone += k;
      progressed = true;
    }
    StashedMessage m;
    m.tag = r.got.tag;
    m.bytes = r.got.bytes;
    m.dtype = r.got.dtype;
    r.stashBuf.resize(r.got.bytes);
    m.data = std::move(r.stashBuf);
    p.stash.push_back(std::move(m));
    r.stashing = false;
    r.hdrDone = 0;
    r.hdrChecked = false;
  }

  size_t limit = depLimit(r);
  if (!r.reduce) {
    while (r.done < limit) {
      size_t k = s.read(r.dst + r.done, limit - r.done);
      if (k == 0) return progressed;
      r.done += k;
      progressed = true;
    }
  } else {
    if (limit < r.bytes) limit -= limit % r.esize;
    while (r.done < limit) {
      const void* in = nullptr;
      size_t avail = s.peek(&in, r.esize);
      size_t n = std::min(avail, limit - r.done);
      n -= n % r.esize;
      if (n == 0) return progressed;
      size_t elems = n / r.esize;
      r.fn(r.dst + r.done, r.local + r.done, in, elems);
      if (r.avgFinal) finalizeAvg(r.dtype, r.dst + r.done, elems, r.avgDivisor);
      s.consume(n);
      r.done += n;
      progressed = true;
    }
  }
  if (r.done < r.bytes) return progressed;
  char sink[8];
  while (r.padDone < r.pad) {
    size_t k = s.read(sink, r.pad - r.padDone);
    if (k == 0) return progressed;
    r.padDone += k;
    progressed = true;
  }
  r.complete = true;
  return true;
}

bool Executor::progress(Req& r) { return r.isSend ? progressSend(r) : progressRecv(r); }

// ------------------------------------------------------------------ run loop

void Executor::checkHealth(const std::vector<int>& waitingOn) {
  // Every peer's control socket: an abort notice carries the root cause of a peer's failure, a
  // probe the op a stalled peer is in (equal sequence number, different op: a mismatch no data
  // message reveals because neither side sends first), a goodbye a clean departure. EOF without a
  // goodbye means the process died: that fails the communicator even when this op does not involve
  // the dead rank (every pending op of every survivor must fail in bounded time).
  const int P = comm_.size();
  for (int peer = 0; peer < P; peer++) {
    if (peer == comm_.rank()) continue;
    Pair& p = comm_.pair(peer);
    if (p.fds[kCtrl] < 0) continue;
    bool waiting = std::find(waitingOn.begin(), waitingOn.end(), peer) != waitingOn.end();
    bool eof = readCtrl(peer);
    if (p.peerHeader && p.peerHeader->dead.load(std::memory_order_acquire)) {
      if (!eof) explainPeerFailure(peer);  // its notice may be a moment behind the flag
      throw Error(ErrorCode::kPeer, strprintf("rank %d aborted its communicator", peer), peer);
    }
    if (!eof) continue;
    if (!p.shm && waiting) continue;  // its data socket reports the end after delivering everything sent
    if (p.departed) {
      if (!waiting) continue;
      throw Error(ErrorCode::kPeer,
                  strprintf("rank %d destroyed its communicator while this rank still expects data from it", peer),
                  peer);
    }
    throw Error(ErrorCode::kPeer, strprintf("rank %d closed the connection (it exited or crashed)", peer), peer);
  }
}

void Executor::explainPeerFailure(int peer) {
  // A data stream broke. If the peer failed on purpose it sent an abort notice on the control
  // socket before shutting its sockets: report that root cause instead of the broken stream.
  Pair& p = comm_.pair(peer);
  int fd = p.fds[kCtrl];
  if (fd < 0) return;
  auto until = Clock::now() + std::chrono::milliseconds(100);
  for (;;) {
    if (readCtrl(peer)) return;  // EOF without a notice: the original error stands
    if (Clock::now() >= until) return;
    pollfd pf{fd, POLLIN | POLLRDHUP, 0};
    poll(&pf, 1, 10);
  }
}

bool Executor::readCtrl(int peer) {
  Pair& p = comm_.pair(peer);
  int fd = p.fds[kCtrl];
  if (p.noticeCode != 0) throw Error(static_cast<ErrorCode>(p.noticeCode), p.noticeText, peer);
  if (p.ctrlEof) return true;
  {
    bool eof = false;
    char buf[4096];
    for (;;) {
      ssize_t k = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (k > 0) {
        p.ctrlIn.append(buf, static_cast<size_t>(k));
        continue;
      }
      if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
        eof = true;
      }
      break;
    }
    std::vector<ParsedCtrl> frames;
    if (!parseCtrl(p.ctrlIn, frames)) {
      throw Error(ErrorCode::kInternal, strprintf("corrupt control stream from rank %d", peer), peer);
    }
    for (auto& f : frames) {
      if (f.type == CtrlType::kAbort) {
        // remembered: the root cause stays the answer for every later check of this peer
        p.noticeCode = static_cast<int>(f.code == ErrorCode::kMismatch ? ErrorCode::kMismatch : ErrorCode::kPeer);
        p.noticeText = f.code == ErrorCode::kMismatch ? f.text : strprintf("rank %d failed: %s", peer, f.text.c_str());
        throw Error(static_cast<ErrorCode>(p.noticeCode), p.noticeText, peer);
      }
      // probes come only from collectives and compare only with a collective of the same number
      // (point-to-point ops are numbered separately); a stale probe of a finished op never matches
      if (f.type == CtrlType::kProbe && fp_.op != OpType::kSend && fp_.op != OpType::kRecv &&
          f.fp.seq == fp_.seq && !sameOp(f.fp, fp_)) {
        throw Error(ErrorCode::kMismatch, mismatchMessage(peer, f.fp), peer);
      }
      if (f.type == CtrlType::kBye) p.departed = true;
    }
    if (eof) p.ctrlEof = true;
    return eof;
  }
}

bool Executor::sameOp(const OpFingerprint& a, const OpFingerprint& b) {
  bool reduces = a.op == OpType::kAllReduce || a.op == OpType::kReduce || a.op == OpType::kReduceScatter;
  return a.op == b.op && a.dtype == b.dtype && a.count == b.count && a.root == b.root && a.algo == b.algo &&
         (!reduces || a.redop == b.redop);
}

std::string Executor::mismatchMessage(int peer, const OpFingerprint& theirs) const {
  return strprintf(
      "ranks issued different collectives: rank %d issued %s as op #%llu, but rank %d issued %s as op #%llu "
      "(every rank must issue the same collectives in the same order)",
      comm_.rank(), describeOp(fp_).c_str(), static_cast<unsigned long long>(fp_.seq), peer,
      describeOp(theirs).c_str(), static_cast<unsigned long long>(theirs.seq));
}

void Executor::sendProbes(const std::vector<int>& peers) {
  std::string frame = encodeCtrl(CtrlType::kProbe, ErrorCode::kInternal, fp_, "");
  for (int peer : peers) comm_.sendCtrl(comm_.pair(peer), frame);
}

void Executor::prepare() {
  if (prepared_) return;
  prepared_ = true;
  const int P = comm_.size();
  queues_.assign(static_cast<size_t>(P) * kNumChannels * 2, {});
  for (auto& r : reqs_) {
    size_t qi = (static_cast<size_t>(r.peer) * kNumChannels + r.channel) * 2 + (r.isSend ? 1 : 0);
    queues_[qi].push_back(&r);
  }
  for (size_t i = 0; i < queues_.size(); i++) {
    if (!queues_[i].empty()) active_.push_back(i);
  }
}

bool Executor::sweep() {
  bool progressed = false;
  for (size_t a = 0; a < active_.size();) {
    auto& q = queues_[active_[a]];
    while (!q.empty()) {
      Req& r = *q.front();
      if (progress(r)) progressed = true;
      if (!r.complete) break;
      q.pop_front();
      if (onComplete_) onComplete_(&r);
    }
    if (q.empty()) {
      active_[a] = active_.back();
      active_.pop_back();
    } else {
      a++;
    }
  }
  return progressed;
}

bool Executor::checkedSweep() {
  try {
    return sweep();
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kPeer && e.peer() >= 0) explainPeerFailure(e.peer());
    throw;
  }
}

bool Executor::runFor(std::chrono::microseconds idle, std::chrono::microseconds total) {
  prepare();
  // a TCP round trip on loopback alone takes ~10-20 us: wait longer for a TCP peer before handing
  // the op to the progress thread (whose wake-ups cost more than that)
  for (auto& r : reqs_) {
    if (!comm_.pair(r.peer).shm) {
      idle = std::max(idle, std::chrono::microseconds(paramInlineSpinTcpUs()));
      break;
    }
  }
  const auto patience = idle + (comm_.oversubscribed() ? std::chrono::microseconds(0)
                                                       : std::chrono::microseconds(paramInlineWaitUs()));
  const auto start = Clock::now();
  auto lastProgress = start;
  uint32_t n = 0;
  while (!active_.empty()) {
    if (comm_.abortRequested()) throw Error(ErrorCode::kAborted, "the communicator was aborted");
    bool progressed = checkedSweep();
    if (active_.empty()) break;
    if ((++n & 15) != 0 && progressed) continue;  // read the clock now and then while bytes flow
    auto now = Clock::now();
    if (progressed) lastProgress = now;
    if (now >= deadline_) throw Error(ErrorCode::kTimeout, "timed out waiting for peers (op timeout reached)");
    if (now - lastProgress >= patience || now - start >= total) return false;
    if (!progressed) RINGTREE_CPU_RELAX();
  }
  return true;
}

void Executor::run() {
  prepare();
  // Waiting policy: spin with a pause instruction (cheap, lowest latency), then spin with
  // sched_yield (lets a peer sharing our core run: this machine is often oversubscribed), then
  // sleep in futex_wait/poll in bounded slices so deadlines, aborts and dead peers are noticed.
  const int64_t spinLimit = comm_.spinCount();
  const int64_t yieldLimit = spinLimit + paramYieldCount();
  int64_t spins = 0;
  auto lastHealth = Clock::now();
  const auto slice = std::chrono::milliseconds(paramWaitSliceMs());
  bool peerGoneSeen = false;
  auto lastProgress = Clock::now();
  bool probed = false;
  const auto probeAfter = std::chrono::milliseconds(paramProbeAfterMs());
  if (absorb_) absorb_();
  while (!active_.empty()) {
    if (comm_.abortRequested()) throw Error(ErrorCode::kAborted, "the communicator was aborted");
    bool progressed = checkedSweep();
    if (active_.empty() && absorb_) absorb_();
    if (active_.empty()) break;
    if (progressed) {
      spins = 0;
      if (probed) lastProgress = Clock::now();
      probed = false;
      continue;
    }
    if (spins == 0) lastProgress = Clock::now();
    ++spins;
    if (spins < spinLimit) {
      RINGTREE_CPU_RELAX();
      continue;
    }
    auto now = Clock::now();
    if (now >= deadline_) throw Error(ErrorCode::kTimeout, "timed out waiting for peers (op timeout reached)");
    if (spins < yieldLimit && now - lastHealth < slice) {
      sched_yield();
      continue;
    }
    if (absorb_) absorb_();
    if (now - lastHealth >= slice || peerGoneSeen) {
      lastHealth = now;
      // only peers we still have work with: one that finished its part may already have left
      std::vector<int> waitingOn;
      for (size_t idx : active_) {
        int peer = queues_[idx].front()->peer;
        if (std::find(waitingOn.begin(), waitingOn.end(), peer) == waitingOn.end()) waitingOn.push_back(peer);
      }
      if (!probed && fp_.op != OpType::kSend && fp_.op != OpType::kRecv && now - lastProgress >= probeAfter) {
        probed = true;
        sendProbes(waitingOn);
      }
      try {
        checkHealth(waitingOn);
      } catch (const Error& e) {
        // mismatches and peers' own failure notices are final; a bare EOF may hide data still in flight
        if (e.code() == ErrorCode::kMismatch || (e.peer() >= 0 && comm_.pair(e.peer()).noticeCode != 0)) throw;
        // the peer may have written everything we need before it left: drain once more first
        if (peerGoneSeen) throw;
        peerGoneSeen = true;
        continue;
      }
    }
    bool anyTcp = false, anyShm = false;
    std::vector<pollfd> pfds;
    for (size_t idx : active_) {
      Req& r = *queues_[idx].front();
      Pair& p = comm_.pair(r.peer);
      Stream& st = r.isSend ? *p.send[r.channel] : *p.recv[r.channel];
      if (st.isShm()) {
        anyShm = true;
      } else {
        anyTcp = true;
        pfds.push_back(pollfd{st.fd(), static_cast<short>(r.isSend ? POLLOUT : POLLIN), 0});
      }
    }
    int sliceMs = std::max(1, msUntil(deadline_, static_cast<int>(paramWaitSliceMs())));
    if (anyTcp) {
      if (comm_.wakeFd() >= 0) pfds.push_back(pollfd{comm_.wakeFd(), POLLIN, 0});
      poll(pfds.data(), pfds.size(), anyShm ? 1 : sliceMs);
    } else if (anyShm) {
      SegmentHeader* own = comm_.ownHeader();
      if (own) {
        own->sleeping.store(1, std::memory_order_seq_cst);
        uint32_t bell = own->bell.load(std::memory_order_seq_cst);
        // re-check after announcing sleep: a peer that progressed since our last sweep has bumped
        // the bell already, so futex_wait returns at once instead of missing the wake-up
        bool any = checkedSweep();
        if (!any && !active_.empty() && !comm_.abortRequested()) futexWait(&own->bell, bell, sliceMs);
        own->sleeping.store(0, std::memory_order_relaxed);
      }
    }
    spins = spinLimit;  // after a wake-up: yield-spin before sleeping again
  }
}

}  // namespace ringtree
