// Development addon: only the kernels (the package addon's init, native/binding/addon.cc, calls the same
// InitKernels). Built by native/kernels-dev/CMakeLists.txt into build-kernels/.
#include <napi.h>

#include "binding/kernels_binding.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ringtree::binding::InitKernels(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(ringtree_kernels_dev, Init)
