// Algorithm selection for 'auto' (NCCL tuning.cc style, a two-term cost model) and the
// RINGTREE_ALGO override.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "algorithm/collectives.h"
#include "common/params.h"

namespace ringtree {

static Algo parseAlgo(const std::string& s) {
  if (s == "ring") return Algo::kRing;
  if (s == "tree") return Algo::kTree;
  if (s == "rhd") return Algo::kRhd;
  return Algo::kAuto;
}

Algo algoOverride(OpType op) {
  static const std::string spec = [] {
    const char* v = std::getenv("RINGTREE_ALGO");
    return std::string(v ? v : "");
  }();
  if (spec.empty()) return Algo::kAuto;
  const char* name = op == OpType::kAllReduce ? "allreduce" : op == OpType::kBroadcast ? "broadcast" : "";
  Algo global = Algo::kAuto;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t end = spec.find(',', pos);
    if (end == std::string::npos) end = spec.size();
    std::string tok = spec.substr(pos, end - pos);
    size_t colon = tok.find(':');
    if (colon == std::string::npos) {
      global = parseAlgo(tok);
    } else if (tok.substr(0, colon) == name) {
      return parseAlgo(tok.substr(colon + 1));
    }
    pos = end + 1;
  }
  return global;
}

// alpha: per-message latency (us), beta: us per byte. The constants only need the right ratio:
// shared memory here does ~1 us per hop and ~6 GB/s per stream.
Algo selectAllReduce(size_t bytes, int P) {
  Algo o = algoOverride(OpType::kAllReduce);
  if (o != Algo::kAuto) return o;
  if (P <= 2) return bytes <= static_cast<size_t>(paramTreeThresholdBytes()) ? Algo::kTree : Algo::kRing;
  const double alpha = 2.0, beta = 1.0 / 6000.0;
  double steps = std::ceil(std::log2(static_cast<double>(P)));
  double tree = 2 * steps * (alpha + static_cast<double>(bytes) * beta);
  double ring = 2 * (P - 1) * alpha + 2.0 * (P - 1) / P * static_cast<double>(bytes) * beta;
  if (bytes <= static_cast<size_t>(paramTreeThresholdBytes()) && tree <= ring) return Algo::kTree;
  return tree < ring ? Algo::kTree : Algo::kRing;
}

Algo selectBroadcast(size_t bytes, int P) {
  Algo o = algoOverride(OpType::kBroadcast);
  if (o == Algo::kRing || o == Algo::kTree) return o;
  if (P <= 2) return Algo::kTree;
  return bytes <= static_cast<size_t>(paramTreeThresholdBytes()) ? Algo::kTree : Algo::kRing;
}

}  // namespace ringtree
