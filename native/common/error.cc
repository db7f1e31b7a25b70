#include "common/error.h"

namespace ringtree {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "ERR_RINGTREE_INVALID_ARGUMENT";
    case ErrorCode::kTimeout: return "ERR_RINGTREE_TIMEOUT";
    case ErrorCode::kPeer: return "ERR_RINGTREE_PEER";
    case ErrorCode::kMismatch: return "ERR_RINGTREE_MISMATCH";
    case ErrorCode::kAborted: return "ERR_RINGTREE_ABORTED";
    case ErrorCode::kSystem: return "ERR_RINGTREE_SYSTEM";
    case ErrorCode::kStore: return "ERR_RINGTREE_STORE";
    case ErrorCode::kBackend: return "ERR_RINGTREE_BACKEND";
    case ErrorCode::kInternal: return "ERR_RINGTREE_INTERNAL";
  }
  return "ERR_RINGTREE_INTERNAL";
}

}  // namespace ringtree
