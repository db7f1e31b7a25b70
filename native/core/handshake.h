// The data-connection handshake (one per socket, at connect time):
//   connector -> acceptor  Hello      {magic, version, job hash, from, to, channel, world size, nonceC}
//   acceptor  -> connector Challenge  {magic, status, nonceA, HMAC(secret, "ringtree-accept"  | Hello | nonceA)}
//   connector -> acceptor  32 bytes   HMAC(secret, "ringtree-connect" | Hello | nonceA)
//   acceptor  -> connector 'K'
// Both sides prove they hold the job secret (mutual authentication); without a secret the MACs are
// zero and only the job hash, ranks and channel are checked. checkHello is the acceptor's parser of
// untrusted bytes: it is pure so it can be fuzzed in isolation (native/fuzz/).
#pragma once

#include <cstdint>
#include <string>

namespace ringtree {

constexpr uint32_t kHelloMagic = 0x31485452;  // "RTH1"
constexpr uint32_t kProtocolVersion = 1;

struct Hello {
  uint32_t magic;
  uint32_t version;
  uint64_t jobHash;
  int32_t fromRank;
  int32_t toRank;
  int32_t channel;
  int32_t worldSize;
  uint8_t nonce[32];
};
static_assert(sizeof(Hello) == 64, "hello is 64 bytes on the wire");

struct Challenge {
  uint32_t magic;
  uint32_t status;
  uint8_t nonce[32];
  uint8_t mac[32];
};

// Validates a Hello received by rank `me` of `worldSize` ranks expecting connections from higher
// ranks on `channels` channels. Returns "" when acceptable, else why it is refused.
// `taken(from, channel)` says whether that socket is already connected.
template <typename Taken>
std::string checkHello(const Hello& h, uint64_t jobHash, int me, int worldSize, int channels, Taken taken);

uint64_t jobHashOf(const std::string& jobId);
// HMAC-SHA256(secret, label || hello || nonce) into out[32].
void handshakeMac(const std::string& secret, const char* label, const Hello& hello, const uint8_t* nonce,
                  uint8_t out[32]);
bool macEqual(const uint8_t* a, const uint8_t* b);

// ---- implementation of the template

std::string helloReason(const Hello& h, uint64_t jobHash, int me, int worldSize, int channels);

template <typename Taken>
std::string checkHello(const Hello& h, uint64_t jobHash, int me, int worldSize, int channels, Taken taken) {
  std::string reason = helloReason(h, jobHash, me, worldSize, channels);
  if (reason.empty() && taken(h.fromRank, h.channel)) reason = "duplicate connection";
  return reason;
}

}  // namespace ringtree
