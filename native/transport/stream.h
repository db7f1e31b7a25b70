// One direction of one channel to one peer: a nonblocking byte stream. Algorithms never see it:
// they post requests to the executor, which moves bytes through streams. Implementations: TCP
// (socket) and shared memory (SPSC ring in the receiver's segment).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "transport/shm/shm_segment.h"

namespace ringtree {

class Stream {
 public:
  virtual ~Stream() = default;
  // Sender side: accepts up to n bytes without blocking; returns how many (0 = full). Throws
  // ringtree::Error (kPeer) when the peer is gone.
  virtual size_t write(const void* p, size_t n) = 0;
  // Receiver side: copies up to n available bytes into p; 0 = nothing available now.
  virtual size_t read(void* p, size_t n) = 0;
  // Receiver side: a contiguous run of available bytes, at least minBytes if that many can be had
  // now (else returns what is there, possibly less). Valid until consume().
  virtual size_t peek(const void** p, size_t minBytes) = 0;
  virtual void consume(size_t n) = 0;
  virtual bool isShm() const = 0;
  virtual int fd() const { return -1; }
  uint64_t bytesMoved = 0;
};

class TcpStream : public Stream {
 public:
  TcpStream(int fd, int peer, size_t stagingBytes) : fd_(fd), peer_(peer), staging_(stagingBytes) {}
  size_t write(const void* p, size_t n) override;
  size_t read(void* p, size_t n) override;
  size_t peek(const void** p, size_t minBytes) override;
  void consume(size_t n) override { off_ += n; bytesMoved += n; }
  bool isShm() const override { return false; }
  int fd() const override { return fd_; }

 private:
  size_t recvSome(void* p, size_t n);
  int fd_;
  int peer_;
  std::vector<char> staging_;
  size_t off_ = 0, len_ = 0;
};

class ShmSendStream : public Stream {
 public:
  ShmSendStream(RingHeader* ring, char* data, uint64_t cap, SegmentHeader* receiver, size_t chunk)
      : ring_(ring), data_(data), cap_(cap), receiver_(receiver), chunk_(chunk) {}
  size_t write(const void* p, size_t n) override;
  size_t read(void*, size_t) override { return 0; }
  size_t peek(const void**, size_t) override { return 0; }
  void consume(size_t) override {}
  bool isShm() const override { return true; }

 private:
  RingHeader* ring_;
  char* data_;
  uint64_t cap_;
  SegmentHeader* receiver_;
  size_t chunk_;
};

class ShmRecvStream : public Stream {
 public:
  ShmRecvStream(RingHeader* ring, char* data, uint64_t cap, SegmentHeader* sender)
      : ring_(ring), data_(data), cap_(cap), sender_(sender) {}
  size_t write(const void*, size_t) override { return 0; }
  size_t read(void* p, size_t n) override;
  size_t peek(const void** p, size_t minBytes) override;
  void consume(size_t n) override;
  bool isShm() const override { return true; }

 private:
  RingHeader* ring_;
  char* data_;
  uint64_t cap_;
  SegmentHeader* sender_;
};

}  // namespace ringtree
