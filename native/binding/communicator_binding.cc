#include "binding/communicator_binding.h"

#include "binding/v8_pin.h"
#include "common/logging.h"
#include "common/params.h"

#include <algorithm>

namespace ringtree::binding {

namespace {

Napi::Error makeError(Napi::Env env, ErrorCode code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, errorCodeName(code)));
  return e;
}

bool throwInvalid(Napi::Env env, const std::string& message) {
  makeError(env, ErrorCode::kInvalidArgument, message).ThrowAsJavaScriptException();
  return false;
}

// TypedArray -> (pointer, byteLength); null/undefined -> (nullptr, 0). One napi call on the hot
// path; the detached check only when the view is empty (a detached view reports length 0).
bool viewOf(Napi::Env env, Napi::Value v, void** ptr, size_t* bytes, const char* what) {
  *ptr = nullptr;
  *bytes = 0;
  if (v.IsNull() || v.IsUndefined()) return true;
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok) {
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
    return throwInvalid(env, std::string(what) + " must be a TypedArray");
  }
  if (length == 0) {
    bool detached = false;
    napi_is_detached_arraybuffer(env, ab, &detached);
    if (detached) return throwInvalid(env, std::string(what) + " is detached");
  }
  static const size_t elementSize[] = {1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 2};  // napi_typedarray_type order
  *ptr = data;
  *bytes = length * (static_cast<size_t>(type) < sizeof(elementSize) / sizeof(elementSize[0]) ? elementSize[type] : 1);
  return true;
}

}  // namespace

Napi::Function CommunicatorBinding::Define(Napi::Env env) {
  return DefineClass(env, "NativeCommunicator",
                     {
                         InstanceMethod<&CommunicatorBinding::JS_port>("port"),
                         InstanceMethod<&CommunicatorBinding::JS_connect>("connect"),
                         InstanceMethod<&CommunicatorBinding::JS_submit>("submit"),
                         InstanceMethod<&CommunicatorBinding::JS_abort>("abort"),
                         InstanceMethod<&CommunicatorBinding::JS_dropConnections>("dropConnections"),
                         InstanceMethod<&CommunicatorBinding::JS_close>("close"),
                         InstanceMethod<&CommunicatorBinding::JS_stats>("stats"),
                         InstanceMethod<&CommunicatorBinding::JS_flight>("flight"),
                         InstanceMethod<&CommunicatorBinding::JS_pending>("pending"),
                         InstanceMethod<&CommunicatorBinding::JS_farewell>("farewell"),
                     });
}

// new NativeCommunicator({ rank, size, bindHost, secret, jobId, injectDelayMs })
CommunicatorBinding::CommunicatorBinding(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CommunicatorBinding>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throwInvalid(env, "NativeCommunicator expects an options object");
    return;
  }
  Napi::Object o = info[0].As<Napi::Object>();
  CommOptions opts;
  opts.rank = o.Get("rank").ToNumber().Int32Value();
  opts.size = o.Get("size").ToNumber().Int32Value();
  if (o.Has("bindHost") && o.Get("bindHost").IsString()) opts.bindHost = o.Get("bindHost").As<Napi::String>();
  if (o.Has("secret") && o.Get("secret").IsString()) opts.secret = o.Get("secret").As<Napi::String>();
  if (o.Has("jobId") && o.Get("jobId").IsString()) opts.jobId = o.Get("jobId").As<Napi::String>();
  if (o.Has("injectDelayMs") && o.Get("injectDelayMs").IsNumber()) {
    opts.injectDelayMs = o.Get("injectDelayMs").As<Napi::Number>().Int64Value();
  }
  try {
    comm_ = std::make_unique<Communicator>(opts);
  } catch (const Error& e) {
    makeError(env, e.code(), e.message()).ThrowAsJavaScriptException();
    return;
  }
  tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function(), "ringtree-completions", 0, 1,
                                        [](Napi::Env) {});
  tsfnLive_ = true;
  tsfn_.Unref(env);
  // Abort and join this communicator's thread when its environment goes away (process exit,
  // worker termination) so no background thread outlives its isolate. Per instance, so one
  // worker's exit never touches another worker's communicators.
  env_ = env;
  napi_add_env_cleanup_hook(env, &CommunicatorBinding::CleanupHook, this);
  hookAdded_ = true;
}

void CommunicatorBinding::CleanupHook(void* self) {
  auto* b = static_cast<CommunicatorBinding*>(self);
  b->hookAdded_ = false;
  b->Teardown();
}

CommunicatorBinding::~CommunicatorBinding() {
  if (hookAdded_) napi_remove_env_cleanup_hook(env_, &CommunicatorBinding::CleanupHook, this);
  Teardown();
}

void CommunicatorBinding::Teardown() {
  if (comm_) {
    // idle: leave cleanly (peers get a goodbye); ops in flight: abort them (peers get the reason)
    if (!pending_.empty()) comm_->abort(ErrorCode::kAborted, "the process is exiting with ops in flight");
    comm_->shutdown();
    comm_.reset();
  }
  releaseTsfn();
}

void CommunicatorBinding::releaseTsfn() {
  if (tsfnLive_) {
    tsfnLive_ = false;
    tsfn_.Release();
  }
}

Napi::Value CommunicatorBinding::JS_port(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), comm_ ? comm_->port() : 0);
}

Napi::Value CommunicatorBinding::track(Napi::Env env, std::shared_ptr<Work> work, Napi::Object in, Napi::Object out,
                                       bool tryInline) {
  uint64_t id = nextId_++;
  work->onDone = [this, id](Work&) {
    {
      std::lock_guard<std::mutex> lock(doneMu_);
      done_.push_back(id);
    }
    // one call drains every completion queued so far
    tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function) { onCompletions(env); });
  };
  if (tryInline) {
    // Fast path: settled in this thread means no Promise, no pinning, no thread hop. Returns true
    // (success) or the error object; the TS layer turns that into a settled Promise.
    if (comm_->submitInline(work)) {
      if (work->ok) return Napi::Boolean::New(env, true);
      Napi::Error e = makeError(env, work->code, work->message);
      if (work->errPeer >= 0) e.Set("peer", Napi::Number::New(env, work->errPeer));
      e.Set("seq", Napi::Number::New(env, static_cast<double>(work->seq)));
      return e.Value();
    }
    // handed to the progress thread: its completion is delivered through the TSFN, which cannot run
    // before this call returns, so registering it below is in time
  } else {
    comm_->enqueue(work);
  }
  Pending p{Napi::Promise::Deferred::New(env), {}, {}, nullptr, nullptr, work};
  if (!in.IsEmpty()) {
    p.in = Napi::Persistent(in);
    p.pinIn = pin(static_cast<napi_value>(in));
  }
  if (!out.IsEmpty()) {
    p.out = Napi::Persistent(out);
    p.pinOut = pin(static_cast<napi_value>(out));  // in place: a second reference to the same store
  }
  Napi::Promise promise = p.deferred.Promise();
  pending_.emplace(id, std::move(p));
  if (!refd_) {
    tsfn_.Ref(env);
    refd_ = true;
  }
  return promise;
}

bool isDetachedView(Napi::Env env, Napi::Value v) {
  if (!v.IsTypedArray()) return false;
  bool detached = false;
  napi_is_detached_arraybuffer(env, v.As<Napi::TypedArray>().ArrayBuffer(), &detached);
  return detached;
}

void CommunicatorBinding::settle(Napi::Env env, Pending& p) {
  Work& w = *p.work;
  const bool inGone = !p.in.IsEmpty() && isDetachedView(env, p.in.Value());
  const bool outGone = !p.out.IsEmpty() && isDetachedView(env, p.out.Value());
  if (w.ok && (inGone || outGone)) {
    // The op ran to the end on memory kept alive by the pins (or, without them, memory that may
    // already have been reused): its result is not where the caller can see it.
    std::string what = inGone && outGone ? "input and output buffers were" : inGone ? "input buffer was" : "output buffer was";
    Napi::Error e = makeError(env, ErrorCode::kInvalidArgument,
                              "the " + what + " detached (transferred) while the op was in flight; the op completed " +
                                  (p.pinIn || p.pinOut ? "on memory kept alive until its end" : "but its memory was not pinned") +
                                  ", and its result was discarded");
    e.Set("seq", Napi::Number::New(env, static_cast<double>(w.seq)));
    p.deferred.Reject(e.Value());
  } else if (w.ok) {
    p.deferred.Resolve(env.Undefined());
  } else {
    Napi::Error e = makeError(env, w.code, w.message);
    if (w.errPeer >= 0) e.Set("peer", Napi::Number::New(env, w.errPeer));
    e.Set("seq", Napi::Number::New(env, static_cast<double>(w.seq)));
    p.deferred.Reject(e.Value());
  }
}

void CommunicatorBinding::onCompletions(Napi::Env env) {
  std::deque<uint64_t> ids;
  {
    std::lock_guard<std::mutex> lock(doneMu_);
    ids.swap(done_);
  }
  for (uint64_t id : ids) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    Pending p = std::move(it->second);
    pending_.erase(it);
    Napi::HandleScope scope(env);
    settle(env, p);
  }
  if (pending_.empty() && refd_ && tsfnLive_) {
    tsfn_.Unref(env);
    refd_ = false;
  }
}

// connect(peers: {host, port, hostId}[], timeoutMs) -> Promise<void>
Napi::Value CommunicatorBinding::JS_connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!comm_ || closed_) {
    makeError(env, ErrorCode::kAborted, "the communicator is closed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info.Length() < 2 || !info[0].IsArray()) {
    throwInvalid(env, "connect(peers, timeoutMs)");
    return env.Undefined();
  }
  auto work = std::make_shared<Work>();
  work->isConnect = true;
  Napi::Array arr = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Object o = arr.Get(i).As<Napi::Object>();
    PeerInfo pi;
    pi.host = o.Get("host").ToString();
    pi.port = o.Get("port").ToNumber().Int32Value();
    pi.hostId = o.Get("hostId").ToString();
    work->peers.push_back(pi);
  }
  work->desc.timeoutMs = info[1].ToNumber().Int64Value();
  return track(env, work, Napi::Object(), Napi::Object());
}

// submit(op, dtype, redop, algo, root, peer, tag, count, in, out, timeoutMs) -> Promise
Napi::Value CommunicatorBinding::JS_submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!comm_ || closed_) {
    makeError(env, ErrorCode::kAborted, "the communicator is destroyed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info.Length() < 11) {
    throwInvalid(env, "submit: expected 11 arguments");
    return env.Undefined();
  }
  for (size_t i = 0; i < 8; i++) {
    if (!info[i].IsNumber()) {
      throwInvalid(env, "submit: numeric arguments expected");
      return env.Undefined();
    }
  }
  if (!info[10].IsNumber()) {
    throwInvalid(env, "submit: numeric timeout expected");
    return env.Undefined();
  }
  auto work = std::make_shared<Work>();
  OpDesc& d = work->desc;
  int op = info[0].As<Napi::Number>().Int32Value();
  int dtype = info[1].As<Napi::Number>().Int32Value();
  int redop = info[2].As<Napi::Number>().Int32Value();
  int algo = info[3].As<Napi::Number>().Int32Value();
  if (op < 0 || op > 7 || dtype < 0 || dtype >= kNumDataTypes || redop < 0 || redop >= kNumReduceOps || algo < 0 ||
      algo > 3) {
    throwInvalid(env, "submit: bad op/dtype/reduce op/algorithm code");
    return env.Undefined();
  }
  d.op = static_cast<OpType>(op);
  d.dtype = static_cast<DataType>(dtype);
  d.redop = static_cast<ReduceOp>(redop);
  d.algo = static_cast<Algo>(algo);
  d.root = info[4].As<Napi::Number>().Int32Value();
  d.peer = info[5].As<Napi::Number>().Int32Value();
  d.tag = info[6].As<Napi::Number>().Uint32Value();
  d.count = static_cast<uint64_t>(info[7].As<Napi::Number>().Int64Value());
  void *in = nullptr, *out = nullptr;
  size_t inBytes = 0, outBytes = 0;
  if (!viewOf(env, info[8], &in, &inBytes, "input buffer") || !viewOf(env, info[9], &out, &outBytes, "output buffer")) {
    return env.Undefined();
  }
  d.timeoutMs = info[10].As<Napi::Number>().Int64Value();
  // last line of defence: TS validated already
  const size_t es = dtypeSize(d.dtype);
  const int P = comm_->size();
  size_t needIn = 0, needOut = 0;
  switch (d.op) {
    case OpType::kAllReduce: case OpType::kBroadcast: case OpType::kReduce: needIn = needOut = d.count * es; break;
    case OpType::kAllGather: needIn = d.count * es; needOut = d.count * es * P; break;
    case OpType::kReduceScatter: needIn = d.count * es * P; needOut = d.count * es; break;
    case OpType::kSend: needIn = d.count * es; break;
    case OpType::kRecv: needOut = d.count * es; break;
    case OpType::kBarrier: break;
  }
  if (inBytes < needIn || outBytes < needOut) {
    throwInvalid(env, strprintf("%s: buffer too small (%zu/%zu bytes, need %zu/%zu)", opTypeName(d.op), inBytes,
                                outBytes, needIn, needOut));
    return env.Undefined();
  }
  d.in = in;
  d.out = out;
  if (d.op == OpType::kSend || d.op == OpType::kRecv) work->seq = ++p2pSeq_;
  else work->seq = ++collSeq_;
  Napi::Object inObj = info[8].IsObject() ? info[8].As<Napi::Object>() : Napi::Object();
  Napi::Object outObj = info[9].IsObject() ? info[9].As<Napi::Object>() : Napi::Object();
  size_t opBytes = std::max(needIn, needOut);
  bool small = paramInlineBytes() > 0 && opBytes <= static_cast<size_t>(paramInlineBytes()) &&
               d.op != OpType::kSend && d.op != OpType::kRecv;
  Napi::Value promise = track(env, work, inObj, outObj, small);
  return promise;
}

Napi::Value CommunicatorBinding::JS_abort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!comm_) return env.Undefined();
  std::string code = info.Length() > 0 ? info[0].ToString().Utf8Value() : "ERR_RINGTREE_ABORTED";
  std::string msg = info.Length() > 1 ? info[1].ToString().Utf8Value() : "aborted";
  ErrorCode c = ErrorCode::kAborted;
  for (int i = 1; i <= static_cast<int>(ErrorCode::kInternal); i++) {
    if (code == errorCodeName(static_cast<ErrorCode>(i))) c = static_cast<ErrorCode>(i);
  }
  comm_->abort(c, msg);
  return env.Undefined();
}

Napi::Value CommunicatorBinding::JS_dropConnections(const Napi::CallbackInfo& info) {
  if (comm_) comm_->dropConnections();
  return info.Env().Undefined();
}

// close(): waits for queued work (callers abort first if they must not wait), joins the thread.
Napi::Value CommunicatorBinding::JS_close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (comm_ && !closed_) {
    closed_ = true;
    comm_->shutdown();
  }
  return env.Undefined();
}

Napi::Value CommunicatorBinding::JS_stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  if (!comm_) return o;
  CommStats s = comm_->stats();
  o.Set("ops", Napi::Number::New(env, static_cast<double>(s.ops)));
  o.Set("bytesSent", Napi::Number::New(env, static_cast<double>(s.bytesSent)));
  o.Set("bytesReceived", Napi::Number::New(env, static_cast<double>(s.bytesReceived)));
  o.Set("busyMs", Napi::Number::New(env, s.busyMs));
  o.Set("transports", Napi::String::New(env, s.transports));
  return o;
}

Napi::Value CommunicatorBinding::JS_flight(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  if (!comm_) return o;
  FlightRecord f = comm_->flight();
  o.Set("busy", Napi::Boolean::New(env, f.busy));
  o.Set("seq", Napi::Number::New(env, static_cast<double>(f.seq)));
  o.Set("op", Napi::String::New(env, f.op));
  o.Set("runningMs", Napi::Number::New(env, f.runningMs));
  o.Set("lastCompletedSeq", Napi::Number::New(env, static_cast<double>(f.lastCompletedSeq)));
  o.Set("lastCompletedOp",
        Napi::String::New(env, f.lastCompletedOp < 0 ? "" : opTypeName(static_cast<OpType>(f.lastCompletedOp))));
  o.Set("queued", Napi::Number::New(env, static_cast<double>(f.queued)));
  o.Set("failed", Napi::Boolean::New(env, comm_->failed()));
  return o;
}

// farewell(clean, why): process exit without destroy() (called from process.on('exit'))
Napi::Value CommunicatorBinding::JS_farewell(const Napi::CallbackInfo& info) {
  if (comm_ && !closed_) {
    bool clean = info.Length() > 0 && info[0].ToBoolean().Value() && pending_.empty();
    std::string why = info.Length() > 1 ? info[1].ToString().Utf8Value() : "the process exited";
    comm_->farewell(clean, why);
  }
  return info.Env().Undefined();
}

Napi::Value CommunicatorBinding::JS_pending(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(pending_.size()));
}

}  // namespace ringtree::binding
