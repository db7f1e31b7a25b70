#include "core/handshake.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/logging.h"

namespace ringtree {

std::string helloReason(const Hello& h, uint64_t jobHash, int me, int worldSize, int channels) {
  if (h.magic != kHelloMagic) return "not a ringtree connection";
  if (h.version != kProtocolVersion) return strprintf("protocol version %u, expected %u", h.version, kProtocolVersion);
  if (h.jobHash != jobHash) return "belongs to another job";
  if (h.worldSize != worldSize) return strprintf("world size %d, expected %d", h.worldSize, worldSize);
  if (h.toRank != me) return strprintf("addressed to rank %d, this is rank %d", h.toRank, me);
  if (h.fromRank <= me || h.fromRank >= worldSize) return strprintf("rank %d may not connect to rank %d", h.fromRank, me);
  if (h.channel < 0 || h.channel >= channels) return strprintf("bad channel %d", h.channel);
  return "";
}

uint64_t jobHashOf(const std::string& jobId) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (unsigned char c : jobId) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void handshakeMac(const std::string& secret, const char* label, const Hello& hello, const uint8_t* nonce,
                  uint8_t out[32]) {
  std::string msg(label);
  msg.append(reinterpret_cast<const char*>(&hello), sizeof(hello));
  msg.append(reinterpret_cast<const char*>(nonce), 32);
  unsigned int len = 32;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out, &len);
}

bool macEqual(const uint8_t* a, const uint8_t* b) {
  uint8_t d = 0;
  for (int i = 0; i < 32; i++) d |= a[i] ^ b[i];
  return d == 0;
}

}  // namespace ringtree
