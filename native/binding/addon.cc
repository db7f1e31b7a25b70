// Addon entry point: registers the communicator class and the tfjs kernels.
#include <napi.h>

#include "binding/communicator_binding.h"
#include "binding/kernels_binding.h"
#include "core/types.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeCommunicator", ringtree::binding::CommunicatorBinding::Define(env));
  Napi::Object dtypeSizes = Napi::Object::New(env);
  for (int i = 0; i < ringtree::kNumDataTypes; i++) {
    auto t = static_cast<ringtree::DataType>(i);
    dtypeSizes.Set(ringtree::dtypeName(t), Napi::Number::New(env, static_cast<double>(ringtree::dtypeSize(t))));
  }
  exports.Set("dtypeSizes", dtypeSizes);
  // isDetached(typedArray): true when the TypedArray's ArrayBuffer was transferred or detached
  exports.Set("isDetached", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray()) return Napi::Boolean::New(env, false);
    bool detached = false;
    napi_is_detached_arraybuffer(env, info[0].As<Napi::TypedArray>().ArrayBuffer(), &detached);
    return Napi::Boolean::New(env, detached);
  }));
  ringtree::binding::InitKernels(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ringtree, Init)
