// Registers the tfjs CPU kernel entry points on the addon's exports (owned by the native-kernels work).
#pragma once
#include <napi.h>

namespace ringtree::binding {
void InitKernels(Napi::Env env, Napi::Object exports);
}  // namespace ringtree::binding
