#include "core/communicator.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "algorithm/collectives.h"
#include "common/logging.h"
#include "common/params.h"
#include "core/executor.h"
#include "core/control.h"
#include "core/handshake.h"
#include "transport/socket.h"

namespace ringtree {

double nowUs() {
  return std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch()).count();
}

namespace {

void randomBytes(uint8_t* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = getrandom(p + got, n - got, 0);
    if (k < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCode::kSystem, strprintf("getrandom: %s", strerror(errno)));
    }
    got += static_cast<size_t>(k);
  }
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out.push_back(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_');
  if (out.size() > 40) out.resize(40);
  return out;
}

}  // namespace

Communicator::Communicator(CommOptions opts) : opts_(std::move(opts)) {
  if (opts_.size < 1 || opts_.rank < 0 || opts_.rank >= opts_.size) {
    throw Error(ErrorCode::kInvalidArgument, strprintf("invalid rank %d for world size %d", opts_.rank, opts_.size));
  }
  pairs_.resize(opts_.size);
  if (opts_.size > 1) listenFd_ = tcpListen(opts_.bindHost, 0, &port_);
  wakeFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { loop(); });
}

Communicator::~Communicator() {
  if (thread_.joinable()) {
    abort(ErrorCode::kAborted, "the communicator was destroyed");
    shutdown();
  }
  for (auto& p : pairs_) {
    if (!p) continue;
    for (int& fd : p->fds) closeFd(fd);
  }
  closeFd(listenFd_);
  closeFd(wakeFd_);
}

void Communicator::enqueue(std::shared_ptr<Work> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(work));
    queued_.store(queue_.size(), std::memory_order_release);
  }
  cv_.notify_one();
}

void Communicator::loop() {
  pthread_setname_np(pthread_self(), "ringtree-prog");
  for (;;) {
    std::shared_ptr<Work> w;
    {
      // Stay awake briefly after an op: a training loop or benchmark issues the next op within
      // microseconds, and a condition-variable sleep/wake costs tens of microseconds (more on a
      // busy VM). Bounded, and yielding, so an idle communicator costs nothing.
      auto idleUntil = Clock::now() + std::chrono::microseconds(paramIdleSpinUs());
      while (queued_.load(std::memory_order_acquire) == 0 && !stopFlag_.load(std::memory_order_relaxed) &&
             Clock::now() < idleUntil) {
        sched_yield();
      }
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return (!queue_.empty() && !inlineBusy_) || (stopping_ && !inlineBusy_); });
      if (queue_.empty()) return;
      w = queue_.front();
      queue_.pop_front();
      queued_.store(queue_.size(), std::memory_order_release);
      current_ = w;
    }
    if (isP2P(*w) && !w->executor) {
      executeP2P(w);
      std::lock_guard<std::mutex> lock(mu_);
      current_.reset();
      continue;
    }
    execute(*w);
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_.reset();
      recordCompletion(*w);
    }
    if (w->onDone) w->onDone(*w);
  }
}

bool Communicator::isP2P(const Work& w) {
  return !w.isConnect && (w.desc.op == OpType::kSend || w.desc.op == OpType::kRecv);
}

// Runs a send/recv together with every send/recv queued right behind it (and those issued while it
// waits) in one executor: p2p ops need no cross-rank order beyond per-pair FIFO, and running them
// together is what lets `Promise.all([send(x, peer), recv(y, peer)])` on both ranks complete even
// when the messages are larger than the transport buffers. Each op settles as soon as it is done.
void Communicator::executeP2P(std::shared_ptr<Work> first) {
  std::vector<std::shared_ptr<Work>> batch;
  std::map<const Req*, Work*> owner;
  std::shared_ptr<Executor> ex;
  auto settle = [&](Work& w) {
    w.endUs = nowUs();
    {
      std::lock_guard<std::mutex> lock(mu_);
      recordCompletion(w);
    }
    if (w.onDone) w.onDone(w);
  };
  auto add = [&](std::shared_ptr<Work> w) {
    w->startUs = nowUs();
    batch.push_back(w);
    const OpDesc& d = w->desc;
    if (failed_.load() || d.peer < 0 || d.peer >= opts_.size || d.peer == opts_.rank) {
      std::lock_guard<std::mutex> lock(mu_);
      w->ok = false;
      w->code = failed_.load() ? failCode_ : ErrorCode::kInvalidArgument;
      w->message = failed_.load() ? failMessage_ : strprintf("invalid peer %d", d.peer);
      w->executor = nullptr;
      return false;
    }
    size_t bytes = d.count * dtypeSize(d.dtype);
    if (!ex) {
      OpFingerprint fp{d.op, d.dtype, d.redop, Algo::kAuto, 0, d.count, w->seq};
      ex = std::make_shared<Executor>(*this, fp, deadlineIn(d.timeoutMs));
    } else {
      ex->extendDeadline(deadlineIn(d.timeoutMs));
    }
    Req* r = d.op == OpType::kSend ? ex->send(d.peer, d.in, bytes, nullptr, kChannelP2P)
                                   : ex->recv(d.peer, d.out, bytes, nullptr, kChannelP2P);
    ex->setTag(r, d.tag);
    owner[r] = w.get();
    return true;
  };
  if (!add(first)) {
    settle(*first);
    return;
  }
  ex->setOnComplete([&](Req* r) {
    auto it = owner.find(r);
    if (it == owner.end()) return;
    Work* w = it->second;
    owner.erase(it);
    settle(*w);
  });
  ex->setAbsorb([&] {
    for (;;) {
      std::shared_ptr<Work> next;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (queue_.empty() || !isP2P(*queue_.front()) || queue_.front()->executor) return;
        next = queue_.front();
        queue_.pop_front();
        queued_.store(queue_.size(), std::memory_order_release);
      }
      if (!add(next)) settle(*next);
    }
  });
  try {
    ex->run();
  } catch (const Error& e) {
    Work tmp;
    tmp.code = e.code();
    tmp.message = e.message();
    tmp.errPeer = e.peer();
    tmp.ok = false;
    handleFailure(tmp);
    for (auto& [req, w] : owner) {
      w->ok = false;
      w->code = tmp.code;
      w->message = tmp.message;
      w->errPeer = tmp.errPeer;
      settle(*w);
    }
    owner.clear();
  }
}

void Communicator::recordCompletion(const Work& w) {
  if (!w.isConnect) {
    stats_.ops++;
    stats_.busyMs += (w.endUs - w.startUs) / 1000.0;
    lastCompletedSeq_ = w.seq;
    lastCompletedOp_ = static_cast<int64_t>(w.desc.op);
  }
  uint64_t sent = 0, recvd = 0;
  for (auto& p : pairs_) {
    if (!p) continue;
    for (int c = 0; c < kNumChannels; c++) {
      if (p->send[c]) sent += p->send[c]->bytesMoved;
      if (p->recv[c]) recvd += p->recv[c]->bytesMoved;
    }
  }
  stats_.bytesSent = sent;
  stats_.bytesReceived = recvd;
}

bool Communicator::submitInline(std::shared_ptr<Work> w) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!connected_ || failed_.load() || !queue_.empty() || current_ || inlineBusy_ || stopping_ ||
        opts_.injectDelayMs > 0) {
      queue_.push_back(w);
      queued_.store(queue_.size(), std::memory_order_release);
      cv_.notify_one();
      return false;
    }
    inlineBusy_ = true;
    current_ = w;
  }
  w->startUs = nowUs();
  bool settled = true;
  try {
    w->executor = buildOp(*w);
    if (w->executor) {
      settled = w->executor->runFor(std::chrono::microseconds(paramInlineSpinUs()),
                                    std::chrono::microseconds(paramInlineMaxUs()));
    }
  } catch (const Error& e) {
    w->ok = false;
    w->code = e.code();
    w->errPeer = e.peer();
    w->message = e.message();
  } catch (const std::exception& e) {
    w->ok = false;
    w->code = ErrorCode::kInternal;
    w->message = e.what();
  }
  if (settled) {
    w->executor.reset();
    if (!w->ok) handleFailure(*w);
    w->endUs = nowUs();
    w->inlined = true;
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_.reset();
    inlineBusy_ = false;
    if (settled) recordCompletion(*w);
    else queue_.push_front(w);  // the progress thread resumes it where the spin stopped
    queued_.store(queue_.size(), std::memory_order_release);
    wake = !queue_.empty() || stopping_;
  }
  // waking the progress thread costs a futex syscall and a context switch: only when it has work
  if (wake) cv_.notify_one();
  return settled;
}

void Communicator::execute(Work& w) {
  if (!w.executor) w.startUs = nowUs();
  if (failed_.load()) {
    std::lock_guard<std::mutex> lock(mu_);
    w.executor.reset();
    w.ok = false;
    w.code = failCode_;
    w.errPeer = failPeer_;
    w.message = failMessage_;
    w.endUs = nowUs();
    return;
  }
  try {
    if (w.isConnect) {
      connectAll(w.peers, w.desc.timeoutMs);
    } else {
      if (!w.executor) {
        if (opts_.injectDelayMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opts_.injectDelayMs));
        w.executor = buildOp(w);
      }
      if (w.executor) w.executor->run();
    }
  } catch (const Error& e) {
    w.ok = false;
    w.code = e.code();
    w.errPeer = e.peer();
    w.message = e.message();
  } catch (const std::exception& e) {
    w.ok = false;
    w.code = ErrorCode::kInternal;
    w.message = e.what();
  }
  w.executor.reset();
  if (!w.ok) handleFailure(w);
  w.endUs = nowUs();
}

void Communicator::handleFailure(Work& w) {
  // InvalidArgument is caught before any byte moved: local to this op, not sticky.
  if (w.code == ErrorCode::kInvalidArgument) return;
  if (abortFlag_.load() && failed_.load()) {
    std::lock_guard<std::mutex> lock(mu_);
    w.code = failCode_;
    w.message = failMessage_;
    w.errPeer = failPeer_;
  }
  fail(w.code, w.message, w.errPeer);
}

void Communicator::fail(ErrorCode code, const std::string& message, int peer) {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_.load()) {
      failCode_ = code;
      failMessage_ = message;
      failPeer_ = peer;
      failed_.store(true);
      first = true;
      RINGTREE_INFO(kLogColl, "rank %d: communicator failed: %s", opts_.rank, message.c_str());
    }
  }
  if (first) sendAbortNotices(code, message);
  closeLinks();
}

void Communicator::farewell(bool clean, const std::string& why) {
  if (!connected_) return;
  if (!clean) {
    sendAbortNotices(ErrorCode::kPeer, why);
    return;
  }
  OpFingerprint none{OpType::kBarrier, DataType::kUint8, ReduceOp::kSum, Algo::kAuto, 0, 0, 0};
  std::string frame = encodeCtrl(CtrlType::kBye, ErrorCode::kInternal, none, "");
  for (auto& p : pairs_) {
    if (p) sendCtrl(*p, frame);
  }
}

void Communicator::sendAbortNotices(ErrorCode code, const std::string& message) {
  // Best effort, nonblocking: tell every peer the root cause before the links go down, so their
  // errors name it instead of just "rank N closed the connection".
  OpFingerprint none{OpType::kBarrier, DataType::kUint8, ReduceOp::kSum, Algo::kAuto, 0, 0, 0};
  std::string frame = encodeCtrl(CtrlType::kAbort, code, none, message);
  for (auto& p : pairs_) {
    if (p) sendCtrl(*p, frame);
  }
}

void Communicator::sendCtrl(Pair& p, const std::string& frame) {
  std::lock_guard<std::mutex> lock(ctrlMu_);
  int fd = p.fds[kCtrl];
  if (fd < 0 || linksClosed_) return;
  size_t done = 0;
  for (int tries = 0; done < frame.size() && tries < 100; tries++) {
    ssize_t k = ::send(fd, frame.data() + done, frame.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k > 0) done += static_cast<size_t>(k);
    else if (k < 0 && errno != EAGAIN && errno != EINTR) break;
  }
  RINGTREE_INFO(kLogNet, "rank %d: control frame to rank %d: %zu/%zu bytes", opts_.rank, p.peer, done, frame.size());
}

void Communicator::closeLinks() {
  // shutdown() (not close()) so that a concurrent user of the fd sees an error instead of a reused fd
  for (auto& p : pairs_) {
    if (!p) continue;
    for (int fd : p->fds) {
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
    if (p->peerHeader) ringBell(p->peerHeader);
  }
  if (ownSegment_ && ownSegment_->mapped()) {
    ownSegment_->header()->dead.store(1, std::memory_order_release);
    ringBell(ownSegment_->header());
  }
}

void Communicator::abort(ErrorCode code, const std::string& why) {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_.load()) {
      failCode_ = code;
      failMessage_ = why;
      failPeer_ = -1;
      failed_.store(true);
      first = connected_;
    }
  }
  if (first) sendAbortNotices(code, why);
  abortFlag_.store(true);
  closeLinks();
  if (wakeFd_ >= 0) {
    uint64_t one = 1;
    ssize_t ignored = write(wakeFd_, &one, sizeof(one));
    (void)ignored;
  }
}

void Communicator::dropConnections() {
  for (auto& p : pairs_) {
    if (!p) continue;
    for (int fd : p->fds) {
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
  }
}

void Communicator::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    stopFlag_.store(true);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  bool cleanClose = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cleanClose = !failed_.load() && connected_;
    if (!failed_.load()) {
      failed_.store(true);
      failCode_ = ErrorCode::kAborted;
      failMessage_ = "the communicator was destroyed";
    }
  }
  // A clean close says goodbye on every control socket, then closes (peers see EOF once they have
  // read what we sent) and unmaps; only failures set the dead flag (closeLinks).
  if (!linksClosed_ && cleanClose) farewell(true, "");
  if (!linksClosed_) {
    linksClosed_ = true;
    for (auto& p : pairs_) {
      if (!p) continue;
      for (int c = 0; c < kNumChannels; c++) {
        p->send[c].reset();
        p->recv[c].reset();
      }
      for (int& fd : p->fds) closeFd(fd);
      p->peerHeader = nullptr;
      p->peerSegment.reset();
    }
    ownSegment_.reset();
  }
}

CommStats Communicator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  CommStats s = stats_;
  int nShm = 0, nTcp = 0;
  if (connected_) {
    for (auto& p : pairs_) {
      if (!p) continue;
      (p->shm ? nShm : nTcp)++;
    }
  }
  s.transports = strprintf("shm:%d,tcp:%d", nShm, nTcp);
  return s;
}

FlightRecord Communicator::flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  FlightRecord f;
  if (current_) {
    f.busy = true;
    f.seq = current_->seq;
    const auto& d = current_->desc;
    OpFingerprint fp{d.op, d.dtype, d.redop, d.algo, d.root, d.count, current_->seq};
    f.op = current_->isConnect ? std::string("connect") : describeOp(fp);
    f.runningMs = (nowUs() - current_->startUs) / 1000.0;
  }
  f.lastCompletedSeq = lastCompletedSeq_;
  f.lastCompletedOp = lastCompletedOp_;
  f.queued = queue_.size();
  return f;
}

char* Communicator::scratch(size_t bytes) {
  if (scratch_.size() < bytes) {
    scratch_.clear();
    scratch_.shrink_to_fit();
    scratch_.resize(bytes);  // value-initialised: faulted in once here, reused afterwards
  }
  return scratch_.data();
}

// ------------------------------------------------------------------ connection setup

void Communicator::connectAll(const std::vector<PeerInfo>& peers, int64_t timeoutMs) {
  const int P = opts_.size, me = opts_.rank;
  if (P == 1) {
    connected_ = true;
    return;
  }
  if (static_cast<int>(peers.size()) != P) {
    throw Error(ErrorCode::kInvalidArgument, strprintf("peer table has %zu entries, expected %d", peers.size(), P));
  }
  Deadline deadline = deadlineIn(timeoutMs);
  const uint64_t jobHash = jobHashOf(opts_.jobId);
  const bool secure = !opts_.secret.empty();
  for (int q = 0; q < P; q++) {
    if (q == me) continue;
    pairs_[q] = std::make_unique<Pair>();
    pairs_[q]->peer = q;
    pairs_[q]->address = strprintf("%s:%d", peers[q].host.c_str(), peers[q].port);
  }

  // 1. connect to every lower rank (they accept in their phase 2), one socket per channel
  for (int q = 0; q < me; q++) {
    for (int c = 0; c < kNumSockets; c++) {
      int fd = tcpConnect(peers[q].host, peers[q].port, deadline, q);
      Hello h{};
      h.magic = kHelloMagic;
      h.version = kProtocolVersion;
      h.jobHash = jobHash;
      h.fromRank = me;
      h.toRank = q;
      h.channel = c;
      h.worldSize = P;
      randomBytes(h.nonce, sizeof(h.nonce));
      Deadline hd = std::min(deadline, deadlineIn(10000));
      try {
        writeFull(fd, &h, sizeof(h), hd, q);
        Challenge ch{};
        readFull(fd, &ch, sizeof(ch), hd, q);
        if (ch.magic != kHelloMagic || ch.status != 0) {
          throw Error(ErrorCode::kPeer, strprintf("rank %d refused the connection (status %u)", q, ch.status), q);
        }
        uint8_t expect[32], answer[32];
        if (secure) {
          handshakeMac(opts_.secret, "ringtree-accept", h, ch.nonce, expect);
          if (!macEqual(expect, ch.mac)) {
            throw Error(ErrorCode::kPeer,
                        strprintf("rank %d at %s failed authentication (wrong job secret?)", q,
                                  pairs_[q]->address.c_str()),
                        q);
          }
          handshakeMac(opts_.secret, "ringtree-connect", h, ch.nonce, answer);
        } else {
          std::memset(answer, 0, sizeof(answer));
        }
        writeFull(fd, answer, sizeof(answer), hd, q);
        char ack = 0;
        readFull(fd, &ack, 1, hd, q);
        if (ack != 'K') throw Error(ErrorCode::kPeer, strprintf("rank %d refused the connection", q), q);
      } catch (const Error& e) {
        close(fd);
        if (e.code() == ErrorCode::kPeer && std::string(e.what()).find("closed the connection") != std::string::npos) {
          throw Error(ErrorCode::kPeer,
                      strprintf("rank %d closed the connection during the handshake (wrong job secret or job id?)", q),
                      q);
        }
        throw;
      }
      pairs_[q]->fds[c] = fd;
    }
  }

  // 2. accept from every higher rank; strangers and failed handshakes are refused and logged
  int missing = (P - 1 - me) * kNumSockets;
  while (missing > 0) {
    std::string from;
    int fd = tcpAccept(listenFd_, deadline, &from);
    if (fd < 0) {
      std::string who;
      for (int q = me + 1; q < P; q++) {
        if (pairs_[q]->fds[0] < 0 || pairs_[q]->fds[1] < 0 || pairs_[q]->fds[kCtrl] < 0) who += (who.empty() ? "" : ", ") + std::to_string(q);
      }
      throw Error(ErrorCode::kTimeout, strprintf("timed out waiting for rank(s) %s to connect", who.c_str()));
    }
    Deadline hd = std::min(deadline, deadlineIn(5000));
    std::string reason;
    try {
      Hello h{};
      readFull(fd, &h, sizeof(h), hd, -1);
      reason = checkHello(h, jobHash, me, P, kNumSockets,
                          [&](int from, int channel) { return pairs_[from]->fds[channel] >= 0; });
      if (reason.empty()) {
        Challenge ch{};
        ch.magic = kHelloMagic;
        ch.status = 0;
        randomBytes(ch.nonce, sizeof(ch.nonce));
        if (secure) handshakeMac(opts_.secret, "ringtree-accept", h, ch.nonce, ch.mac);
        writeFull(fd, &ch, sizeof(ch), hd, h.fromRank);
        uint8_t answer[32];
        readFull(fd, answer, sizeof(answer), hd, h.fromRank);
        uint8_t expect[32];
        if (secure) {
          handshakeMac(opts_.secret, "ringtree-connect", h, ch.nonce, expect);
          if (!macEqual(expect, answer)) reason = "authentication failed (wrong or missing job secret)";
        }
        if (reason.empty()) {
          char ack = 'K';
          writeFull(fd, &ack, 1, hd, h.fromRank);
          pairs_[h.fromRank]->fds[h.channel] = fd;
          missing--;
          continue;
        }
      }
    } catch (const Error& e) {
      reason = e.message();
    }
    RINGTREE_WARN("rank %d refused connection from %s: %s", me, from.c_str(), reason.c_str());
    close(fd);
  }

  // 3. streams: shared memory for same-host peers, TCP otherwise
  std::vector<int> localPeers;
  for (int q = 0; q < P; q++) {
    if (q == me) continue;
    if (!paramShmDisable() && peers[q].hostId == peers[me].hostId && !peers[me].hostId.empty()) localPeers.push_back(q);
  }
  for (int q = 0; q < P; q++) {
    if (q == me) continue;
    for (int c = 0; c < kNumSockets; c++) {
      tuneDataSocket(pairs_[q]->fds[c]);
      setNonBlocking(pairs_[q]->fds[c], true);
    }
  }
  if (!localPeers.empty()) setupShm(peers, localPeers, deadline);
  {
    // ranks of this job on this host (same host id, shm or not) against the CPUs we may run on
    int onHost = 1;
    for (int q = 0; q < P; q++) {
      if (q != me && peers[q].hostId == peers[me].hostId) onHost++;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    int cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
    spinCount_ = getenv("RINGTREE_SPIN_COUNT") ? paramSpinCount() : onHost > cpus ? 50 : paramSpinCount();
    oversubscribed_ = onHost > cpus;
    RINGTREE_INFO(kLogInit, "rank %d: %d ranks on this host, %d cpus: spin count %lld", me, onHost, cpus,
                  static_cast<long long>(spinCount_));
  }
  for (int q = 0; q < P; q++) {
    if (q == me || pairs_[q]->shm) continue;
    for (int c = 0; c < kNumChannels; c++) {
      pairs_[q]->send[c] = std::make_unique<TcpStream>(pairs_[q]->fds[c], q, 0);
      pairs_[q]->recv[c] = std::make_unique<TcpStream>(pairs_[q]->fds[c], q, static_cast<size_t>(paramTcpStagingBytes()));
    }
  }
  closeFd(listenFd_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    connected_ = true;
  }
  RINGTREE_INFO(kLogInit, "rank %d connected: %zu shm peers, %zu tcp peers", me, localPeers.size(),
                static_cast<size_t>(P - 1) - localPeers.size());
}

void Communicator::setupShm(const std::vector<PeerInfo>& peers, const std::vector<int>& localPeers,
                            Deadline deadline) {
  const int P = opts_.size, me = opts_.rank;
  // slot of rank y in rank x's segment: y's index among x's same-host peers
  auto slotOf = [&](int x, int y) {
    uint32_t s = 0;
    for (int q = 0; q < P; q++) {
      if (q == x || peers[q].hostId != peers[x].hostId) continue;
      if (q == y) return s;
      s++;
    }
    return s;
  };
  uint64_t ring = static_cast<uint64_t>(paramShmRingBytes());
  uint64_t pow2 = 4096;
  while (pow2 < ring) pow2 <<= 1;
  ring = pow2;
  std::string name = strprintf("/ringtree-%s-r%d-%d", sanitize(opts_.jobId).c_str(), me, static_cast<int>(getpid()));
  ownSegment_ = std::make_unique<ShmSegment>();
  ownSegment_->create(name, static_cast<uint32_t>(localPeers.size()), kNumChannels, ring);
  // exchange names over the control sockets
  for (int q : localPeers) {
    Pair& p = *pairs_[q];
    uint32_t len = static_cast<uint32_t>(name.size());
    writeFull(p.fds[kCtrl], &len, sizeof(len), deadline, q);
    writeFull(p.fds[kCtrl], name.data(), len, deadline, q);
  }
  for (int q : localPeers) {
    Pair& p = *pairs_[q];
    uint32_t len = 0;
    readFull(p.fds[kCtrl], &len, sizeof(len), deadline, q);
    if (len == 0 || len > 255) throw Error(ErrorCode::kPeer, strprintf("bad shm segment name from rank %d", q), q);
    std::string peerName(len, '\0');
    readFull(p.fds[kCtrl], &peerName[0], len, deadline, q);
    p.peerSegment = std::make_unique<ShmSegment>();
    p.peerSegment->open(peerName);
    p.peerHeader = p.peerSegment->header();
    p.shm = true;
    const size_t chunk = static_cast<size_t>(paramShmChunkBytes());
    for (int c = 0; c < kNumChannels; c++) {
      uint32_t out = slotOf(q, me), in = slotOf(me, q);
      p.send[c] = std::make_unique<ShmSendStream>(p.peerSegment->ring(out, c), p.peerSegment->ringData(out, c),
                                                  p.peerSegment->ringBytes(), p.peerHeader, chunk);
      p.recv[c] = std::make_unique<ShmRecvStream>(ownSegment_->ring(in, c), ownSegment_->ringData(in, c), ring,
                                                  p.peerHeader);
    }
  }
  // everyone mapped our segment once they acknowledge: then the name can go
  for (int q : localPeers) {
    char ack = 'M';
    writeFull(pairs_[q]->fds[kCtrl], &ack, 1, deadline, q);
  }
  for (int q : localPeers) {
    char ack = 0;
    readFull(pairs_[q]->fds[kCtrl], &ack, 1, deadline, q);
    if (ack != 'M') throw Error(ErrorCode::kPeer, strprintf("rank %d failed to map shared memory", q), q);
  }
  ownSegment_->unlink();
  RINGTREE_INFO(kLogShm, "rank %d: shm segment %s (%zu peers x %d channels x %llu B)", me, name.c_str(),
                localPeers.size(), kNumChannels, static_cast<unsigned long long>(ring));
}

// ------------------------------------------------------------------ ops

std::shared_ptr<Executor> Communicator::buildOp(Work& w) {
  const OpDesc& d = w.desc;
  const int P = opts_.size, me = opts_.rank;
  const size_t es = dtypeSize(d.dtype);
  const size_t bytes = d.count * es;
  const char* in = static_cast<const char*>(d.in);
  char* out = static_cast<char*>(d.out);
  OpFingerprint fp{d.op, d.dtype, d.redop, Algo::kAuto, d.root, d.count, w.seq};
  Deadline deadline = deadlineIn(d.timeoutMs);
  if (P > 1 && !connected_) throw Error(ErrorCode::kInternal, "communicator is not connected");

  switch (d.op) {
    case OpType::kAllReduce: {
      if (P == 1) {
        if (out != in && bytes) std::memmove(out, in, bytes);
        return nullptr;
      }
      Algo a = d.algo == Algo::kAuto ? selectAllReduce(bytes, P) : d.algo;
      fp.algo = a;
      w.algoUsed = a;
      auto exp = std::make_shared<Executor>(*this, fp, deadline);
      Executor& ex = *exp;
      if (a == Algo::kTree) allReduceTree(ex, me, P, in, out, d.count, es);
      else if (a == Algo::kRhd) allReduceRhd(ex, me, P, in, out, d.count, es);
      else allReduceRing(ex, me, P, in, out, d.count, es);
      return exp;
    }
    case OpType::kBroadcast: {
      if (P == 1) return nullptr;
      Algo a = d.algo == Algo::kAuto || d.algo == Algo::kRhd ? selectBroadcast(bytes, P) : d.algo;
      fp.algo = a;
      w.algoUsed = a;
      auto exp = std::make_shared<Executor>(*this, fp, deadline);
      Executor& ex = *exp;
      if (a == Algo::kRing) broadcastChain(ex, me, P, d.root, out, bytes);
      else broadcastTree(ex, me, P, d.root, out, bytes);
      return exp;
    }
    case OpType::kReduce: {
      if (P == 1) return nullptr;
      fp.algo = Algo::kTree;
      w.algoUsed = Algo::kTree;
      char* tmp = scratch(bytes);
      auto exp = std::make_shared<Executor>(*this, fp, deadline);
      Executor& ex = *exp;
      reduceTree(ex, me, P, d.root, out, tmp, d.count, es);
      return exp;
    }
    case OpType::kAllGather: {
      if (P == 1) {
        if (out != in && bytes) std::memmove(out, in, bytes);
        return nullptr;
      }
      fp.algo = Algo::kRing;
      w.algoUsed = Algo::kRing;
      auto exp = std::make_shared<Executor>(*this, fp, deadline);
      Executor& ex = *exp;
      allGatherRing(ex, me, P, in, out, d.count, es);
      return exp;
    }
    case OpType::kReduceScatter: {
      if (P == 1) {
        if (out != in && bytes) std::memmove(out, in, bytes);
        return nullptr;
      }
      fp.algo = Algo::kRing;
      w.algoUsed = Algo::kRing;
      char* tmp = scratch(bytes * static_cast<size_t>(P));
      auto exp = std::make_shared<Executor>(*this, fp, deadline);
      Executor& ex = *exp;
      reduceScatterRing(ex, me, P, in, out, tmp, d.count, es);
      return exp;
    }
    case OpType::kBarrier: {
      if (P == 1) return nullptr;
      fp.algo = Algo::kTree;
      fp.count = 0;
      auto exp = std::make_shared<Executor>(*this, fp, deadline);
      Executor& ex = *exp;
      allReduceTree(ex, me, P, nullptr, nullptr, 0, 1);
      return exp;
    }
    case OpType::kSend:
    case OpType::kRecv: {
      if (d.peer < 0 || d.peer >= P || d.peer == me) {
        throw Error(ErrorCode::kInvalidArgument, strprintf("invalid peer %d", d.peer));
      }
      auto exp = std::make_shared<Executor>(*this, fp, deadline);
      Executor& ex = *exp;
      Req* r = d.op == OpType::kSend ? ex.send(d.peer, in, bytes, nullptr, kChannelP2P)
                                     : ex.recv(d.peer, out, bytes, nullptr, kChannelP2P);
      ex.setTag(r, d.tag);
      return exp;
    }
  }
  return nullptr;
}

}  // namespace ringtree
