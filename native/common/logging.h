// Env-driven logging shared with the TS side: RINGTREE_DEBUG=WARN|INFO|TRACE (default WARN),
// RINGTREE_DEBUG_SUBSYS=INIT,COLL,SHM,NET,ALL. Every line starts with "host:pid:tid [ringtree]".
#pragma once

#include <cstdarg>
#include <cstdint>
#include <string>

namespace ringtree {

enum LogSubsys : uint32_t {
  kLogInit = 1u << 0,
  kLogColl = 1u << 1,
  kLogShm = 1u << 2,
  kLogNet = 1u << 3,
  kLogAll = 0xffffffffu,
};

enum class LogLevel : int { kWarn = 1, kInfo = 2, kTrace = 3 };

bool logEnabled(LogLevel level, uint32_t subsys);
void logLine(LogLevel level, const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

// printf-style formatting into a std::string.
std::string strprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace ringtree

#define RINGTREE_WARN(...) ::ringtree::logLine(::ringtree::LogLevel::kWarn, __FILE__, __LINE__, __VA_ARGS__)
#define RINGTREE_INFO(subsys, ...)                                                   \
  do {                                                                               \
    if (::ringtree::logEnabled(::ringtree::LogLevel::kInfo, (subsys)))               \
      ::ringtree::logLine(::ringtree::LogLevel::kInfo, __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#ifdef RINGTREE_ENABLE_TRACE
#define RINGTREE_TRACE(subsys, ...)                                                   \
  do {                                                                                \
    if (::ringtree::logEnabled(::ringtree::LogLevel::kTrace, (subsys)))               \
      ::ringtree::logLine(::ringtree::LogLevel::kTrace, __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#else
#define RINGTREE_TRACE(subsys, ...) \
  do {                              \
  } while (0)
#endif
