// Addon entry point: registers the communicator class and the tfjs kernels.
#include <napi.h>

#include "binding/communicator_binding.h"
#include "binding/kernels_binding.h"
#include "binding/v8_pin.h"
#include "core/handshake.h"
#include "core/types.h"

#include <cstring>

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeCommunicator", ringtree::binding::CommunicatorBinding::Define(env));
  Napi::Object dtypeSizes = Napi::Object::New(env);
  for (int i = 0; i < ringtree::kNumDataTypes; i++) {
    auto t = static_cast<ringtree::DataType>(i);
    dtypeSizes.Set(ringtree::dtypeName(t), Napi::Number::New(env, static_cast<double>(ringtree::dtypeSize(t))));
  }
  exports.Set("dtypeSizes", dtypeSizes);
  const napi_node_version* version = nullptr;
  if (napi_get_node_version(env, &version) == napi_ok && version)
    ringtree::binding::setRuntimeNodeVersion(version->major, version->minor, version->patch);
  Napi::Object features = Napi::Object::New(env);
  // in-flight buffers' memory survives a transfer of their ArrayBuffer (binding/v8_pin.h)
  features.Set("pinsInflightBuffers", Napi::Boolean::New(env, ringtree::binding::pinAvailable()));
  exports.Set("features", features);
  // isDetached(typedArray): true when the TypedArray's ArrayBuffer was transferred or detached
  exports.Set("isDetached", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env env = info.Env();
    return Napi::Boolean::New(env, info.Length() >= 1 && ringtree::binding::isDetachedView(env, info[0]));
  }));
  // _checkHello(bytes, jobId, rank, size): the handshake parser's verdict on untrusted bytes ("" =
  // accepted). Exposed for the fuzzer (scripts/fuzz-handshake.ts), not part of the API.
  exports.Set("_checkHello", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsTypedArray()) return Napi::String::New(env, "bad call");
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    ringtree::Hello h{};
    size_t n = std::min(ta.ByteLength(), sizeof(h));
    std::memcpy(&h, static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), n);
    if (n < sizeof(h)) return Napi::String::New(env, "short hello");
    std::string reason = ringtree::checkHello(h, ringtree::jobHashOf(info[1].ToString().Utf8Value()),
                                              info[2].ToNumber().Int32Value(), info[3].ToNumber().Int32Value(), 3,
                                              [](int, int) { return false; });
    return Napi::String::New(env, reason);
  }));
  exports.Set("_jobHash", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(ringtree::jobHashOf(info[0].ToString().Utf8Value())));
  }));
  ringtree::binding::InitKernels(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ringtree, Init)
