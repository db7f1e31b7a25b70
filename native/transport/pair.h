// A connected link to one peer: per channel, a send and a receive stream. Channel 0 carries
// collectives (and its socket is the control/liveness connection), channel 1 point-to-point
// messages, so send/recv never interleave with a collective's byte stream.
// Same-host peers use shared-memory rings for data; their data sockets then stay idle.
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
constexpr int kNumChannels = 2;  // data channels
constexpr int kCtrl = 2;         // index of the control socket in Pair::fds
constexpr int kNumSockets = 3;

struct StashedMessage {
  uint32_t tag;
  uint64_t bytes;
  uint8_t dtype;
  std::vector<char> data;
};

struct Pair {
  int peer = -1;
  bool shm = false;
  // [collective, point-to-point, control]. The control socket carries the shm setup, stall probes
  // (an op fingerprint: catches ranks stuck in different ops), abort notices (the root cause of a
  // failure), and tells us when the peer's process is gone.
  int fds[kNumSockets] = {-1, -1, -1};
  std::string ctrlIn;  // partial control frames
  int noticeCode = 0;  // the peer's abort notice (an ErrorCode), once received
  bool departed = false;  // the peer said goodbye (clean close)
  bool ctrlEof = false;
  std::string noticeText;
  std::unique_ptr<Stream> send[kNumChannels];
  std::unique_ptr<Stream> recv[kNumChannels];
  SegmentHeader* peerHeader = nullptr;           // shm: the peer's doorbell/dead flag
  std::unique_ptr<ShmSegment> peerSegment;       // shm: the peer's mapped segment
  std::vector<char> packBuf[kNumChannels];     // small messages packed for one write
  std::deque<StashedMessage> stash;              // p2p messages that arrived before their recv
  std::string address;                           // host:port, for messages
};

}  // namespace ringtree
