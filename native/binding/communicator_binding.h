// N-API wrapper of ringtree::Communicator. Main-thread only, except CompletionQueue::post.
#pragma once

#include <napi.h>

#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/communicator.h"

namespace ringtree::binding {

/** True when `v` is a TypedArray whose ArrayBuffer was detached (transferred). */
bool isDetachedView(Napi::Env env, Napi::Value v);

class CommunicatorBinding : public Napi::ObjectWrap<CommunicatorBinding> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit CommunicatorBinding(const Napi::CallbackInfo& info);
  ~CommunicatorBinding() override;

  // Aborts and joins (environment teardown).
  void Teardown();

 private:
  struct Pending {
    Napi::Promise::Deferred deferred;
    Napi::ObjectReference in;
    Napi::ObjectReference out;
    // keep the views' memory alive even if their ArrayBuffers are transferred meanwhile (v8_pin.h)
    std::shared_ptr<void> pinIn;
    std::shared_ptr<void> pinOut;
    std::shared_ptr<Work> work;
  };

  Napi::Value JS_port(const Napi::CallbackInfo& info);
  Napi::Value JS_connect(const Napi::CallbackInfo& info);
  Napi::Value JS_submit(const Napi::CallbackInfo& info);
  Napi::Value JS_abort(const Napi::CallbackInfo& info);
  Napi::Value JS_dropConnections(const Napi::CallbackInfo& info);
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  Napi::Value JS_stats(const Napi::CallbackInfo& info);
  Napi::Value JS_flight(const Napi::CallbackInfo& info);
  Napi::Value JS_pending(const Napi::CallbackInfo& info);
  Napi::Value JS_farewell(const Napi::CallbackInfo& info);

  Napi::Value track(Napi::Env env, std::shared_ptr<Work> work, Napi::Object in, Napi::Object out, bool tryInline = false);
  void settle(Napi::Env env, Pending& p);
  void onCompletions(Napi::Env env);
  void releaseTsfn();

  std::unique_ptr<Communicator> comm_;
  Napi::ThreadSafeFunction tsfn_;
  bool tsfnLive_ = false;
  bool refd_ = false;
  uint64_t nextId_ = 1;
  uint64_t collSeq_ = 0;
  uint64_t p2pSeq_ = 0;
  std::unordered_map<uint64_t, Pending> pending_;
  std::mutex doneMu_;
  std::deque<uint64_t> done_;
  bool closed_ = false;
  napi_env env_ = nullptr;
  bool hookAdded_ = false;
  static void CleanupHook(void* self);
};

}  // namespace ringtree::binding
