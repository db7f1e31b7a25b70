// Thin TCP helpers used by connection setup and the TCP streams. Blocking phases (handshake) use
// poll() with deadlines; data-plane sockets are nonblocking.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace ringtree {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline deadlineIn(int64_t ms) {
  if (ms <= 0) return Deadline::max();
  return Clock::now() + std::chrono::milliseconds(ms);
}
// Milliseconds until the deadline, clamped to [0, cap].
int msUntil(Deadline d, int cap);

// Listens on host:port (port 0 = ephemeral). Returns the fd; *boundPort gets the port.
int tcpListen(const std::string& host, int port, int* boundPort);
// Connects, retrying refused/unreachable until the deadline. Throws ringtree::Error on timeout.
int tcpConnect(const std::string& host, int port, Deadline deadline, int peer);
// Accepts one connection (waits with poll until the deadline). Returns -1 on timeout.
int tcpAccept(int listenFd, Deadline deadline, std::string* peerAddr);
void setNonBlocking(int fd, bool on);
void tuneDataSocket(int fd);
// Blocking (poll-based) exact read/write with a deadline. Throw ringtree::Error (kPeer on EOF/reset,
// kTimeout on deadline).
void writeFull(int fd, const void* p, size_t n, Deadline d, int peer);
void readFull(int fd, void* p, size_t n, Deadline d, int peer);
void closeFd(int& fd);

}  // namespace ringtree
