// See v8_pin.h. Compiled with Node's own include folder only when RINGTREE_V8_PIN is defined.
#include "binding/v8_pin.h"

#ifdef RINGTREE_V8_PIN
#include <node_version.h>
#include <v8.h>

#include <cstring>

namespace ringtree::binding {
namespace {
bool g_enabled = false;
}

void setRuntimeNodeVersion(unsigned major, unsigned minor, unsigned patch) {
  g_enabled = major == NODE_MAJOR_VERSION && minor == NODE_MINOR_VERSION && patch == NODE_PATCH_VERSION;
}

bool pinAvailable() { return g_enabled; }

std::shared_ptr<void> pin(void* view) {
  if (!g_enabled || !view) return nullptr;
  // A napi_value is the address of a V8 handle slot, which is what a v8::Local holds (this is how
  // Node's own Node-API implementation converts it).
  v8::Local<v8::Value> value;
  static_assert(sizeof(value) == sizeof(view), "v8::Local is one pointer");
  std::memcpy(static_cast<void*>(&value), &view, sizeof(view));
  if (value.IsEmpty() || !value->IsArrayBufferView()) return nullptr;
  std::shared_ptr<v8::BackingStore> store = value.As<v8::ArrayBufferView>()->Buffer()->GetBackingStore();
  if (!store) return nullptr;
  v8::BackingStore* raw = store.get();
  return std::shared_ptr<void>(std::move(store), raw);
}

}  // namespace ringtree::binding
#else
namespace ringtree::binding {
void setRuntimeNodeVersion(unsigned, unsigned, unsigned) {}
bool pinAvailable() { return false; }
std::shared_ptr<void> pin(void*) { return nullptr; }
}  // namespace ringtree::binding
#endif
