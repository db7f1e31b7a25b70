// Shared-memory segments for ranks of one host.
//
// Every rank owns one segment holding its doorbell and the rings its same-host peers write into
// (receiver-owned rings). Layout:
//   SegmentHeader (4 KiB)   doorbell futex word, sleeping flag, dead flag
//   for each local peer slot s, for each channel c:  RingHeader (128 B) + data[ringBytes]
// The creator unlinks the name as soon as every peer has mapped it, so a killed job leaves nothing
// in /dev/shm (the launcher also removes /dev/shm/ringtree-<job>-* as a backstop).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ringtree {

struct alignas(64) SegmentHeader {
  uint64_t magic;
  uint64_t ringBytes;
  uint32_t slots;
  uint32_t channels;
  alignas(64) std::atomic<uint32_t> bell;      // futex word: bumped by anyone who made progress possible
  alignas(64) std::atomic<uint32_t> sleeping;  // 1 while the owner is (about to be) in futex_wait
  alignas(64) std::atomic<uint32_t> dead;      // set by the owner when it aborts/fails
};

struct alignas(64) RingHeader {
  alignas(64) std::atomic<uint64_t> head;  // bytes ever written (producer)
  alignas(64) std::atomic<uint64_t> tail;  // bytes ever consumed (consumer)
};

constexpr uint64_t kSegmentMagic = 0x5254534547000001ull;  // "RTSEG" v1
constexpr size_t kSegmentHeaderBytes = 4096;

class ShmSegment {
 public:
  ShmSegment() = default;
  ~ShmSegment();
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  static size_t bytesFor(uint32_t slots, uint32_t channels, uint64_t ringBytes);
  // Creates, sizes, maps and pre-faults a new segment.
  void create(const std::string& name, uint32_t slots, uint32_t channels, uint64_t ringBytes);
  // Maps a peer's segment (validates the header).
  void open(const std::string& name);
  void unlink();  // removes the name (mapping stays valid)

  SegmentHeader* header() const { return static_cast<SegmentHeader*>(base_); }
  RingHeader* ring(uint32_t slot, uint32_t channel) const;
  char* ringData(uint32_t slot, uint32_t channel) const;
  uint64_t ringBytes() const { return header()->ringBytes; }
  const std::string& name() const { return name_; }
  bool mapped() const { return base_ != nullptr; }

 private:
  void* base_ = nullptr;
  size_t size_ = 0;
  std::string name_;
  bool owner_ = false;
  bool linked_ = false;
};

// Futex helpers on a shared (not process-private) word.
int futexWait(std::atomic<uint32_t>* word, uint32_t expected, int timeoutMs);
void futexWake(std::atomic<uint32_t>* word);

// Rings the doorbell of a segment owner: bump the word, wake it if it sleeps.
inline void ringBell(SegmentHeader* h) {
  h->bell.fetch_add(1, std::memory_order_seq_cst);
  if (h->sleeping.load(std::memory_order_seq_cst)) futexWake(&h->bell);
}

}  // namespace ringtree
