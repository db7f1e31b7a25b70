// ringtree::Communicator: a fixed group of ranks, its links to every peer, and the progress engine
// (one FIFO + one background thread). Ops are executed strictly in issue order, which is the same on
// every rank, so sequence numbers match across ranks. Failures are sticky: after a peer, timeout,
// mismatch, system or abort error every pending and later op fails with the root cause, and the
// links are shut down so peers learn of it quickly. Recovery is a new communicator.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "core/types.h"
#include "transport/pair.h"
#include "transport/socket.h"
#include "transport/shm/shm_segment.h"

namespace ringtree {

struct CommOptions {
  int rank = 0;
  int size = 1;
  std::string bindHost = "127.0.0.1";
  std::string secret;
  std::string jobId = "local";
  int64_t injectDelayMs = 0;  // fault injection: sleep before every op
};

struct PeerInfo {
  std::string host;
  int port = 0;
  std::string hostId;
};

struct OpDesc {
  OpType op = OpType::kAllReduce;
  DataType dtype = DataType::kFloat32;
  ReduceOp redop = ReduceOp::kSum;
  Algo algo = Algo::kAuto;
  int root = 0;
  int peer = -1;
  uint32_t tag = 0;
  // Elements: allReduce/broadcast/reduce/send/recv = buffer length; allGather = send length;
  // reduceScatter = recv length.
  uint64_t count = 0;
  const void* in = nullptr;
  void* out = nullptr;
  int64_t timeoutMs = 300000;
};

class Executor;

class Work {
 public:
  OpDesc desc;
  uint64_t seq = 0;  // collective sequence number (p2p ops: per-communicator op number)
  bool isConnect = false;
  std::vector<PeerInfo> peers;  // connect only
  std::function<void(Work&)> onDone;
  // result
  bool ok = true;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  int errPeer = -1;
  Algo algoUsed = Algo::kAuto;
  double startUs = 0, endUs = 0;
  bool inlined = false;                // completed in the caller's thread (fast path)
  std::shared_ptr<Executor> executor;  // an op handed over mid-flight by the fast path
};

struct CommStats {
  uint64_t ops = 0;
  uint64_t bytesSent = 0;
  uint64_t bytesReceived = 0;
  double busyMs = 0;
  std::string transports;  // e.g. "shm:1,tcp:2"
};

struct FlightRecord {
  bool busy = false;
  uint64_t seq = 0;
  std::string op;  // description of the in-flight op
  double runningMs = 0;
  uint64_t lastCompletedSeq = 0;
  int64_t lastCompletedOp = -1;
  size_t queued = 0;
};

class Communicator {
 public:
  explicit Communicator(CommOptions opts);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return opts_.rank; }
  int size() const { return opts_.size; }
  int port() const { return port_; }

  // Queues a Work; onDone runs on the progress thread when it settles.
  void enqueue(std::shared_ptr<Work> work);
  // Fast path for small ops: when nothing is queued or running, runs the op in the calling thread
  // for a bounded spin. Returns true when it settled there (onDone is NOT called: the caller
  // settles it); otherwise the op continues on the progress thread exactly as enqueue() would.
  bool submitInline(std::shared_ptr<Work> work);
  // Sticky failure from outside (JS abort, SIGTERM, AbortSignal): fails the op in flight and all
  // queued ones with `code`, shuts the links down.
  void abort(ErrorCode code, const std::string& why);
  // Fault injection: drop every connection without failing locally first.
  void dropConnections();
  // Waits for queued work, stops the thread, closes links (saying goodbye when healthy). Idempotent.
  void shutdown();
  // Tells every peer this rank is leaving: cleanly (goodbye) or not (an abort notice with `why`).
  // For process exit without destroy(); any thread, nonblocking.
  void farewell(bool clean, const std::string& why);

  CommStats stats() const;
  FlightRecord flight() const;
  bool failed() const { return failed_.load(); }

  // ---- used by the executor and algorithms (progress thread only) ----
  Pair& pair(int peer) { return *pairs_[peer]; }
  bool abortRequested() const { return abortFlag_.load(std::memory_order_relaxed); }
  SegmentHeader* ownHeader() const { return ownSegment_ ? ownSegment_->header() : nullptr; }
  int wakeFd() const { return wakeFd_; }
  char* scratch(size_t bytes);
  // Busy-poll iterations before yielding/sleeping: short when this host runs more ranks than it
  // has CPUs (spinning would steal the CPU the peer needs to make progress).
  int64_t spinCount() const { return spinCount_; }
  /** More ranks of this job on this host than CPUs this process may run on. */
  bool oversubscribed() const { return oversubscribed_; }

 private:
  void loop();
  void execute(Work& w);
  void connectAll(const std::vector<PeerInfo>& peers, int64_t timeoutMs);
  void setupShm(const std::vector<PeerInfo>& peers, const std::vector<int>& localPeers, Deadline deadline);
  std::shared_ptr<Executor> buildOp(Work& w);
  static bool isP2P(const Work& w);
  void executeP2P(std::shared_ptr<Work> first);
  void handleFailure(Work& w);
  void recordCompletion(const Work& w);  // mu_ held
  void fail(ErrorCode code, const std::string& message, int peer);
  void closeLinks();
  void sendAbortNotices(ErrorCode code, const std::string& message);

 public:
  // Writes a control frame to the peer (nonblocking, best effort; any thread).
  void sendCtrl(Pair& p, const std::string& frame);

 private:
  void finish(Work& w);

  CommOptions opts_;
  int listenFd_ = -1;
  int port_ = 0;
  int wakeFd_ = -1;
  std::vector<std::unique_ptr<Pair>> pairs_;
  std::unique_ptr<ShmSegment> ownSegment_;
  std::vector<char> scratch_;
  int64_t spinCount_ = 1000;
  bool oversubscribed_ = false;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Work>> queue_;
  bool stopping_ = false;
  bool inlineBusy_ = false;
  std::atomic<size_t> queued_{0};      // queue_.size(), readable without the lock
  std::atomic<bool> stopFlag_{false};
  std::mutex ctrlMu_;
  std::thread thread_;

  std::atomic<bool> abortFlag_{false};
  std::atomic<bool> failed_{false};
  ErrorCode failCode_ = ErrorCode::kInternal;
  std::string failMessage_;
  int failPeer_ = -1;
  bool connected_ = false;
  bool linksClosed_ = false;

  // stats / flight recorder (guarded by mu_)
  CommStats stats_;
  std::shared_ptr<Work> current_;
  uint64_t lastCompletedSeq_ = 0;
  int64_t lastCompletedOp_ = -1;
};

double nowUs();

}  // namespace ringtree
