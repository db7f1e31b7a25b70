#include "transport/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "common/error.h"
#include "common/logging.h"
#include "common/params.h"

namespace ringtree {

int msUntil(Deadline d, int cap) {
  if (d == Deadline::max()) return cap;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d - Clock::now()).count();
  if (left < 0) return 0;
  return left > cap ? cap : static_cast<int>(left);
}

static addrinfo* resolve(const std::string& host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    throw Error(ErrorCode::kSystem, strprintf("cannot resolve %s: %s", host.c_str(), gai_strerror(rc)));
  }
  return res;
}

int tcpListen(const std::string& host, int port, int* boundPort) {
  addrinfo* res = resolve(host, port, true);
  int fd = -1;
  std::string lastErr;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
    lastErr = strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    throw Error(ErrorCode::kSystem, strprintf("cannot listen on %s:%d: %s", host.c_str(), port, lastErr.c_str()));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *boundPort = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

int tcpConnect(const std::string& host, int port, Deadline deadline, int peer) {
  int delayMs = 5;
  std::string lastErr = "no address";
  for (;;) {
    addrinfo* res = resolve(host, port, false);
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) continue;
      setNonBlocking(fd, true);
      int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int pr = poll(&p, 1, msUntil(deadline, 1000));
        int err = 0;
        socklen_t el = sizeof(err);
        if (pr == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        else err = ETIMEDOUT;
        rc = err == 0 ? 0 : -1;
        errno = err;
      }
      if (rc == 0) {
        freeaddrinfo(res);
        setNonBlocking(fd, false);
        return fd;
      }
      lastErr = strerror(errno);
      close(fd);
    }
    freeaddrinfo(res);
    if (Clock::now() >= deadline) {
      throw Error(ErrorCode::kTimeout,
                  strprintf("timed out connecting to rank %d at %s:%d (%s)", peer, host.c_str(), port, lastErr.c_str()),
                  peer);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
    delayMs = delayMs < 200 ? delayMs * 2 : 200;
  }
}

int tcpAccept(int listenFd, Deadline deadline, std::string* peerAddr) {
  for (;;) {
    pollfd p{listenFd, POLLIN, 0};
    int pr = poll(&p, 1, msUntil(deadline, 1000));
    if (pr < 0 && errno != EINTR) throw Error(ErrorCode::kSystem, strprintf("poll: %s", strerror(errno)));
    if (pr == 1) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      int fd = accept4(listenFd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
      if (fd >= 0) {
        char buf[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
          auto* a = reinterpret_cast<sockaddr_in*>(&ss);
          inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
          port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
          auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
          inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
          port = ntohs(a->sin6_port);
        }
        if (peerAddr) *peerAddr = strprintf("%s:%d", buf, port);
        return fd;
      }
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        throw Error(ErrorCode::kSystem, strprintf("accept: %s", strerror(errno)));
      }
    }
    if (Clock::now() >= deadline) return -1;
  }
}

void setNonBlocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK));
}

void tuneDataSocket(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int buf = static_cast<int>(paramTcpSocketBuffer());
  if (buf > 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  }
}

void writeFull(int fd, const void* p, size_t n, Deadline d, int peer) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t k = send(fd, c, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k > 0) {
      c += k;
      n -= static_cast<size_t>(k);
      continue;
    }
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd pf{fd, POLLOUT, 0};
      if (poll(&pf, 1, msUntil(d, 1000)) == 0 && Clock::now() >= d) {
        throw Error(ErrorCode::kTimeout, strprintf("timed out sending to rank %d", peer), peer);
      }
      continue;
    }
    throw Error(ErrorCode::kPeer, strprintf("connection to rank %d failed: %s", peer, strerror(errno)), peer);
  }
}

void readFull(int fd, void* p, size_t n, Deadline d, int peer) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    ssize_t k = recv(fd, c, n, MSG_DONTWAIT);
    if (k > 0) {
      c += k;
      n -= static_cast<size_t>(k);
      continue;
    }
    if (k == 0) {
      throw Error(ErrorCode::kPeer,
                  peer >= 0 ? strprintf("rank %d closed the connection (it exited, crashed or aborted)", peer)
                            : std::string("the connecting process closed the connection before completing the handshake"),
                  peer);
    }
    if (errno == EAGAIN || errno == EINTR) {
      pollfd pf{fd, POLLIN, 0};
      if (poll(&pf, 1, msUntil(d, 1000)) == 0 && Clock::now() >= d) {
        throw Error(ErrorCode::kTimeout, strprintf("timed out receiving from rank %d", peer), peer);
      }
      continue;
    }
    throw Error(ErrorCode::kPeer, strprintf("connection to rank %d failed: %s", peer, strerror(errno)), peer);
  }
}

void closeFd(int& fd) {
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
}

}  // namespace ringtree
