// Keeps the memory of a TypedArray alive while an op uses it, even if the JavaScript side detaches
// (transfers) its ArrayBuffer meanwhile: a transfer moves the backing store to a new ArrayBuffer that
// can be garbage collected, which would free memory the progress thread still writes into. Node-API
// cannot hold a backing store, so this uses the V8 API (std::shared_ptr<v8::BackingStore>) when the
// addon was built with Node's own headers of the running version (scripts/node-headers.mjs). Without
// them, or when the running Node is not the one built against, pin() returns null and nothing V8 is
// called. Only this file's .cc includes v8.h; it includes no Node-API header.
#pragma once
#include <memory>

namespace ringtree::binding {

/** Records the running Node's version; pinning is enabled only when it equals the build headers'. */
void setRuntimeNodeVersion(unsigned major, unsigned minor, unsigned patch);
/** True when pin() works in this process. */
bool pinAvailable();
/**
 * A reference that keeps the backing store of the ArrayBufferView `view` (a napi_value, passed as
 * void*) alive until it is released; null when unavailable. Call on the JS thread, in a handle scope.
 */
std::shared_ptr<void> pin(void* view);

}  // namespace ringtree::binding
