#include "transport/shm/shm_segment.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "common/error.h"
#include "common/logging.h"

namespace ringtree {

size_t ShmSegment::bytesFor(uint32_t slots, uint32_t channels, uint64_t ringBytes) {
  return kSegmentHeaderBytes + static_cast<size_t>(slots) * channels * (sizeof(RingHeader) + ringBytes);
}

ShmSegment::~ShmSegment() {
  if (owner_ && linked_) shm_unlink(name_.c_str());
  if (base_) munmap(base_, size_);
}

void ShmSegment::create(const std::string& name, uint32_t slots, uint32_t channels, uint64_t ringBytes) {
  size_ = bytesFor(slots, channels, ringBytes);
  int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw Error(ErrorCode::kSystem, strprintf("shm_open(%s): %s", name.c_str(), strerror(errno)));
  }
  name_ = name;
  owner_ = true;
  linked_ = true;
  // posix_fallocate reserves the pages now, so a full /dev/shm fails here instead of SIGBUS later.
  int rc = posix_fallocate(fd, 0, static_cast<off_t>(size_));
  if (rc != 0) {
    close(fd);
    unlink();
    throw Error(ErrorCode::kSystem,
                strprintf("cannot allocate %zu bytes of shared memory for %s: %s (is /dev/shm full?)", size_,
                          name.c_str(), strerror(rc)));
  }
  base_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  close(fd);
  if (base_ == MAP_FAILED) {
    base_ = nullptr;
    unlink();
    throw Error(ErrorCode::kSystem, strprintf("mmap(%s): %s", name.c_str(), strerror(errno)));
  }
  std::memset(base_, 0, kSegmentHeaderBytes);
  auto* h = header();
  h->ringBytes = ringBytes;
  h->slots = slots;
  h->channels = channels;
  for (uint32_t s = 0; s < slots; s++) {
    for (uint32_t c = 0; c < channels; c++) {
      new (ring(s, c)) RingHeader();
      ring(s, c)->head.store(0);
      ring(s, c)->tail.store(0);
    }
  }
  std::atomic_thread_fence(std::memory_order_release);
  h->magic = kSegmentMagic;
}

void ShmSegment::open(const std::string& name) {
  int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(ErrorCode::kSystem, strprintf("shm_open(%s): %s", name.c_str(), strerror(errno)));
  struct stat st {};
  fstat(fd, &st);
  size_ = static_cast<size_t>(st.st_size);
  base_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  close(fd);
  if (base_ == MAP_FAILED) {
    base_ = nullptr;
    throw Error(ErrorCode::kSystem, strprintf("mmap(%s): %s", name.c_str(), strerror(errno)));
  }
  name_ = name;
  if (size_ < kSegmentHeaderBytes || header()->magic != kSegmentMagic ||
      size_ < bytesFor(header()->slots, header()->channels, header()->ringBytes)) {
    throw Error(ErrorCode::kSystem, strprintf("shared memory segment %s is not a ringtree segment", name.c_str()));
  }
}

void ShmSegment::unlink() {
  if (owner_ && linked_) {
    shm_unlink(name_.c_str());
    linked_ = false;
  }
}

RingHeader* ShmSegment::ring(uint32_t slot, uint32_t channel) const {
  auto* h = header();
  size_t per = sizeof(RingHeader) + h->ringBytes;
  char* p = static_cast<char*>(base_) + kSegmentHeaderBytes + (static_cast<size_t>(slot) * h->channels + channel) * per;
  return reinterpret_cast<RingHeader*>(p);
}

char* ShmSegment::ringData(uint32_t slot, uint32_t channel) const {
  return reinterpret_cast<char*>(ring(slot, channel)) + sizeof(RingHeader);
}

int futexWait(std::atomic<uint32_t>* word, uint32_t expected, int timeoutMs) {
  timespec ts{timeoutMs / 1000, (timeoutMs % 1000) * 1000000L};
  return static_cast<int>(syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr, 0));
}

void futexWake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0);
}

}  // namespace ringtree
