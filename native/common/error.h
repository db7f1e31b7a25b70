// ringtree error model: one exception type with a stable code, raised by the core and converted to
// a typed JS error by the binding. Recoverable user errors (bad arguments) never reach the progress
// thread: TS validates first; the core re-checks and throws InvalidArgument as a last line.
#pragma once

#include <cstdint>
#include <exception>
#include <string>

namespace ringtree {

enum class ErrorCode : int {
  kInvalidArgument = 1,
  kTimeout,
  kPeer,
  kMismatch,
  kAborted,
  kSystem,
  kStore,
  kBackend,
  kInternal,
};

const char* errorCodeName(ErrorCode code);  // "ERR_RINGTREE_..."

class Error : public std::exception {
 public:
  Error(ErrorCode code, std::string message, int peer = -1)
      : code_(code), message_(std::move(message)), peer_(peer) {}
  const char* what() const noexcept override { return message_.c_str(); }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  int peer() const { return peer_; }

 private:
  ErrorCode code_;
  std::string message_;
  int peer_;
};

}  // namespace ringtree
