#include "transport/stream.h"

#include <errno.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "common/logging.h"

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace ringtree {

// ---------------------------------------------------------------- TCP

size_t TcpStream::write(const void* p, size_t n) {
  if (n == 0) return 0;
  for (;;) {
    ssize_t k = send(fd_, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k > 0) {
      bytesMoved += static_cast<uint64_t>(k);
      return static_cast<size_t>(k);
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && errno == EAGAIN) return 0;
    throw Error(ErrorCode::kPeer,
                strprintf("connection to rank %d failed while sending: %s (the peer exited, crashed or aborted)",
                          peer_, strerror(errno)),
                peer_);
  }
}

size_t TcpStream::recvSome(void* p, size_t n) {
  for (;;) {
    ssize_t k = recv(fd_, p, n, MSG_DONTWAIT);
    if (k > 0) return static_cast<size_t>(k);
    if (k == 0) {
      throw Error(ErrorCode::kPeer, strprintf("rank %d closed the connection (it exited, crashed or aborted)", peer_),
                  peer_);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 0;
    throw Error(ErrorCode::kPeer, strprintf("connection to rank %d failed: %s", peer_, strerror(errno)), peer_);
  }
}

size_t TcpStream::read(void* p, size_t n) {
  if (n == 0) return 0;
  if (off_ < len_) {
    size_t k = std::min(n, len_ - off_);
    std::memcpy(p, staging_.data() + off_, k);
    off_ += k;
    bytesMoved += k;
    return k;
  }
  if (n < 4096) {
    // small reads (headers, small payloads) go through the staging buffer so one recv() picks up
    // a whole small message instead of one syscall per piece
    off_ = 0;
    len_ = recvSome(staging_.data(), staging_.size());
    size_t k = std::min(n, len_);
    std::memcpy(p, staging_.data(), k);
    off_ = k;
    bytesMoved += k;
    return k;
  }
  size_t k = recvSome(p, n);
  bytesMoved += k;
  return k;
}

size_t TcpStream::peek(const void** p, size_t minBytes) {
  size_t avail = len_ - off_;
  if (avail < minBytes || avail == 0) {
    if (off_ > 0) {  // compact the partial element to the front
      std::memmove(staging_.data(), staging_.data() + off_, avail);
      off_ = 0;
      len_ = avail;
    }
    len_ += recvSome(staging_.data() + len_, staging_.size() - len_);
    avail = len_ - off_;
  }
  *p = staging_.data() + off_;
  return avail;
}

// ---------------------------------------------------------------- shared memory

namespace {

// Copies large runs out of a ring with non-temporal stores: the destination is a big user buffer
// that will not be read again soon, so streaming stores skip the read-for-ownership of every
// destination line (a third of the memory traffic of a plain copy at DRAM-bound sizes) and keep
// the ring itself in cache.
void copyOut(void* dst, const void* src, size_t n, bool large) {
#if defined(__x86_64__)
  if (large && n >= 4096) {
    char* d = static_cast<char*>(dst);
    const char* s = static_cast<const char*>(src);
    size_t head = (16 - (reinterpret_cast<uintptr_t>(d) & 15)) & 15;
    std::memcpy(d, s, head);
    d += head;
    s += head;
    n -= head;
    size_t blocks = n / 64;
    for (size_t i = 0; i < blocks; i++) {
      __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
      __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16));
      __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 32));
      __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 48));
      _mm_stream_si128(reinterpret_cast<__m128i*>(d), a);
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + 16), b);
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + 32), c);
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + 48), e);
      d += 64;
      s += 64;
    }
    _mm_sfence();
    std::memcpy(d, s, n - blocks * 64);
    return;
  }
#endif
  std::memcpy(dst, src, n);
}

}  // namespace

size_t ShmSendStream::write(const void* p, size_t n) {
  uint64_t head = ring_->head.load(std::memory_order_relaxed);
  uint64_t tail = ring_->tail.load(std::memory_order_acquire);
  uint64_t space = cap_ - (head - tail);
  size_t k = std::min<uint64_t>({n, space, chunk_});
  if (k == 0) return 0;
  size_t off = static_cast<size_t>(head & (cap_ - 1));
  size_t first = std::min<size_t>(k, cap_ - off);
  std::memcpy(data_ + off, p, first);
  if (k > first) std::memcpy(data_, static_cast<const char*>(p) + first, k - first);
  ring_->head.store(head + k, std::memory_order_release);
  ringBell(receiver_);
  bytesMoved += k;
  return k;
}

size_t ShmRecvStream::read(void* p, size_t n) {
  uint64_t tail = ring_->tail.load(std::memory_order_relaxed);
  uint64_t head = ring_->head.load(std::memory_order_acquire);
  size_t k = std::min<uint64_t>(n, head - tail);
  if (k == 0) return 0;
  size_t off = static_cast<size_t>(tail & (cap_ - 1));
  size_t first = std::min<size_t>(k, cap_ - off);
  const bool large = n >= (1u << 20);  // the rest of a big message: stream it
  copyOut(p, data_ + off, first, large);
  if (k > first) copyOut(static_cast<char*>(p) + first, data_, k - first, large);
  ring_->tail.store(tail + k, std::memory_order_release);
  ringBell(sender_);
  bytesMoved += k;
  return k;
}

size_t ShmRecvStream::peek(const void** p, size_t) {
  uint64_t tail = ring_->tail.load(std::memory_order_relaxed);
  uint64_t head = ring_->head.load(std::memory_order_acquire);
  size_t off = static_cast<size_t>(tail & (cap_ - 1));
  *p = data_ + off;
  return std::min<uint64_t>(head - tail, cap_ - off);
}

void ShmRecvStream::consume(size_t n) {
  if (n == 0) return;
  uint64_t tail = ring_->tail.load(std::memory_order_relaxed);
  ring_->tail.store(tail + n, std::memory_order_release);
  ringBell(sender_);
  bytesMoved += n;
}

}  // namespace ringtree
