// Control frames on a pair's control socket (see transport/pair.h).
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"
#include "core/executor.h"

namespace ringtree {

constexpr uint32_t kCtrlMagic = 0x31435452;  // "RTC1"
// kBye: the peer closes cleanly (destroy, or a normal process exit with no op pending).
enum class CtrlType : uint32_t { kAbort = 1, kProbe = 2, kBye = 3 };

struct CtrlFrame {
  uint32_t magic;
  uint32_t type;
  uint32_t code;  // ErrorCode for kAbort
  uint32_t len;   // bytes of message text that follow (<= 4096)
  uint64_t seq;
  uint8_t op, dtype, redop, algo;
  int32_t root;
  uint64_t count;
};
static_assert(sizeof(CtrlFrame) == 40, "control frame header is 40 bytes");

std::string encodeCtrl(CtrlType type, ErrorCode code, const OpFingerprint& fp, const std::string& text);

// Parses complete frames from `buf` (consumed as parsed). Returns false on a malformed stream.
struct ParsedCtrl {
  CtrlType type;
  ErrorCode code;
  OpFingerprint fp;
  std::string text;
};
bool parseCtrl(std::string& buf, std::vector<ParsedCtrl>& out);

}  // namespace ringtree
