#include "binding/kernels_binding.h"

namespace ringtree::binding {
void InitKernels(Napi::Env env, Napi::Object exports) {
  exports.Set("kernels", Napi::Object::New(env));
}
}  // namespace ringtree::binding
