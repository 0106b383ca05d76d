// kfd-svm: argument checks for every exported function. Nothing a caller passes may crash the process:
// wrong types throw TypeError, values that do not fit the kernel's field throw RangeError, and a handle of
// the wrong kind (checked by its Node-API type tag) throws TypeError before any pointer is used.
#ifndef KFD_SVM_ARGS_H
#define KFD_SVM_ARGS_H

#include <napi.h>

#include <cstdint>
#include <string>

namespace kfdsvm {

// Type tags (random 128-bit values, as Node-API recommends) for the handles we hand out.
extern const napi_type_tag kDeviceTag;
extern const napi_type_tag kMappingTag;
extern const napi_type_tag kSmiTag;

[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& msg);

void RequireArgs(const Napi::CallbackInfo& info, size_t n, const char* fn);
uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name);
int32_t ArgI32(const Napi::CallbackInfo& info, size_t i, const char* name);
// A u64 passed as bigint (the contract's type for addresses, sizes and masks).
uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name);
// A non-negative integer Number no larger than max (default: 2^53 - 1).
uint64_t ArgSize(const Napi::CallbackInfo& info, size_t i, const char* name,
                 uint64_t max = 9007199254740991ull);
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name, bool dflt);
// An out-parameter: a Uint32Array of at least n elements (TypeError for anything else, RangeError when
// shorter, which includes a detached one). Returns its first element; the caller writes n elements there.
uint32_t* ArgU32Out(const Napi::CallbackInfo& info, size_t i, const char* name, size_t n);
// A path: a string without NUL bytes.
std::string ArgPath(const Napi::CallbackInfo& info, size_t i, const char* name);

// The data of a type-tagged External, or a TypeError naming what was expected. Raw Node-API, two calls on
// the success path: napi_get_value_external (which fails for anything that is not an External, so no
// separate napi_typeof) and the type-tag check (which tells our handle kinds apart, and ours from any other
// addon's Externals) before the pointer is used.
template <typename T>
T* ArgHandle(const Napi::CallbackInfo& info, size_t i, const napi_type_tag& tag, const char* what) {
  napi_env env = info.Env();
  void* data = nullptr;
  bool tagged = false;
  if (info.Length() <= i || napi_get_value_external(env, info[i], &data) != napi_ok ||
      napi_check_object_type_tag(env, info[i], &tag, &tagged) != napi_ok || !tagged) {
    ThrowType(info.Env(), std::string("expected a ") + what + " handle");
  }
  return static_cast<T*>(data);
}

}  // namespace kfdsvm

#endif  // KFD_SVM_ARGS_H
