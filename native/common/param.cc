#include "common/param.h"

#include <cerrno>
#include <cstdlib>
#include <string>

#include "common/logging.h"

namespace ringtree {

int64_t readParam(const char* envSuffix, int64_t defaultValue) {
  std::string name = std::string("RINGTREE_") + envSuffix;
  const char* v = std::getenv(name.c_str());
  if (!v || !*v) return defaultValue;
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v, &end, 0);
  if (errno || end == v) {
    RINGTREE_WARN("ignoring %s=%s: not an integer", name.c_str(), v);
    return defaultValue;
  }
  // accept K/M/G suffixes (powers of two)
  if (*end == 'k' || *end == 'K') x <<= 10;
  else if (*end == 'm' || *end == 'M') x <<= 20;
  else if (*end == 'g' || *end == 'G') x <<= 30;
  RINGTREE_INFO(kLogInit, "%s set to %lld", name.c_str(), x);
  return x;
}

}  // namespace ringtree
