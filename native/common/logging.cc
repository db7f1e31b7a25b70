#include "common/logging.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace ringtree {
namespace {

struct LogConfig {
  int level = 1;
  uint32_t subsys = kLogAll;
  char host[64] = {0};
  LogConfig() {
    if (const char* v = std::getenv("RINGTREE_DEBUG")) {
      if (!strcasecmp(v, "INFO")) level = 2;
      else if (!strcasecmp(v, "TRACE")) level = 3;
      else if (!strcasecmp(v, "WARN")) level = 1;
      else if (!strcasecmp(v, "NONE") || !strcmp(v, "0")) level = 0;
      else level = 2;  // any other non-empty value: INFO
    }
    if (const char* s = std::getenv("RINGTREE_DEBUG_SUBSYS")) {
      subsys = 0;
      std::string all(s);
      size_t pos = 0;
      while (pos <= all.size()) {
        size_t end = all.find(',', pos);
        if (end == std::string::npos) end = all.size();
        std::string tok = all.substr(pos, end - pos);
        if (tok == "INIT") subsys |= kLogInit;
        else if (tok == "COLL") subsys |= kLogColl;
        else if (tok == "SHM") subsys |= kLogShm;
        else if (tok == "NET") subsys |= kLogNet;
        else if (tok == "ALL") subsys = kLogAll;
        pos = end + 1;
      }
    }
    gethostname(host, sizeof(host) - 1);
  }
};

const LogConfig& config() {
  static LogConfig cfg;
  return cfg;
}

std::mutex& logMutex() {
  static std::mutex m;
  return m;
}

}  // namespace

bool logEnabled(LogLevel level, uint32_t subsys) {
  const auto& c = config();
  return static_cast<int>(level) <= c.level && (c.subsys & subsys) != 0;
}

void logLine(LogLevel level, const char* file, int line, const char* fmt, ...) {
  const auto& c = config();
  if (static_cast<int>(level) > c.level) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  const char* base = strrchr(file, '/');
  base = base ? base + 1 : file;
  const char* tag = level == LogLevel::kWarn ? "WARN" : level == LogLevel::kInfo ? "INFO" : "TRACE";
  std::lock_guard<std::mutex> lock(logMutex());
  fprintf(stderr, "%s:%d:%ld [ringtree] %s %s:%d %s\n", c.host, static_cast<int>(getpid()),
          static_cast<long>(syscall(SYS_gettid)), tag, base, line, msg);
}

std::string strprintf(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < static_cast<int>(sizeof(buf))) return std::string(buf, n > 0 ? n : 0);
  std::string out(n + 1, '\0');
  va_start(ap, fmt);
  vsnprintf(&out[0], out.size(), fmt, ap);
  va_end(ap);
  out.resize(n);
  return out;
}

}  // namespace ringtree
