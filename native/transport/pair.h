// A connected link to one peer: per channel, a send and a receive stream. Channel 0 carries
// collectives (and its socket is the control/liveness connection), channel 1 point-to-point
// messages, so send/recv never interleave with a collective's byte stream.
// Same-host peers use shared-memory rings for data; their TCP sockets then only carry the setup
// handshake and tell us when the peer dies (EOF/RST when its process ends).
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "transport/shm/shm_segment.h"
#include "transport/stream.h"

namespace ringtree {

constexpr int kChannelColl = 0;
constexpr int kChannelP2P = 1;
constexpr int kNumChannels = 2;

struct StashedMessage {
  uint32_t tag;
  uint64_t bytes;
  uint8_t dtype;
  std::vector<char> data;
};

struct Pair {
  int peer = -1;
  bool shm = false;
  int fds[kNumChannels] = {-1, -1};
  std::unique_ptr<Stream> send[kNumChannels];
  std::unique_ptr<Stream> recv[kNumChannels];
  SegmentHeader* peerHeader = nullptr;           // shm: the peer's doorbell/dead flag
  std::unique_ptr<ShmSegment> peerSegment;       // shm: the peer's mapped segment
  std::deque<StashedMessage> stash;              // p2p messages that arrived before their recv
  std::string address;                           // host:port, for messages
};

}  // namespace ringtree
