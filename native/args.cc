// kfd-svm: argument checks shared by every exported function.
#include "args.h"

#include <cmath>

namespace kfdsvm {

const napi_type_tag kDeviceTag = {0x6b6664737663a1e2ull, 0x9d3c4b1f0a7e5d21ull};
const napi_type_tag kMappingTag = {0x6b66647376638f13ull, 0x42c0e9b7d5a61f38ull};
const napi_type_tag kSmiTag = {0x6b6664737663c7a4ull, 0x1e58f2d3b9047c6aull};

void ThrowType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
void ThrowRange(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

void RequireArgs(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() < n) {
    ThrowType(info.Env(), std::string(fn) + " expects " + std::to_string(n) + " argument(s), got " +
                              std::to_string(info.Length()));
  }
}

static double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowType(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double v = ArgNumber(info, i, name);
  if (!std::isfinite(v) || v != std::floor(v) || v < 0 || v > 4294967295.0) {
    ThrowRange(info.Env(), std::string(name) + " must be an integer in [0, 2^32-1]");
  }
  return static_cast<uint32_t>(v);
}

[[noreturn]] static void ThrowOut(Napi::Env env, bool range, const char* name, size_t n) {
  std::string msg = std::string(name) + " must be a Uint32Array of at least " + std::to_string(n) + " elements";
  if (range) ThrowRange(env, msg);
  ThrowType(env, msg);
}

uint32_t* ArgU32Out(const Napi::CallbackInfo& info, size_t i, const char* name, size_t n) {
  // Raw Node-API, no message built unless it throws: this check sits on the quick calls' success path. One
  // call for kind, type, length and data: napi_get_typedarray_info fails (napi_invalid_arg) for anything
  // that is not a typed array (a Proxy over one included), and its data pointer includes the byte offset.
  napi_env env = info.Env();
  napi_value v = info.Length() > i ? static_cast<napi_value>(info[i]) : nullptr;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (v == nullptr || napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint32_array) {
    ThrowOut(info.Env(), false, name, n);
  }
  if (length < n || data == nullptr) ThrowOut(info.Env(), true, name, n);  // shorter, or detached (length 0)
  return static_cast<uint32_t*>(data);
}

int32_t ArgI32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double v = ArgNumber(info, i, name);
  if (!std::isfinite(v) || v != std::floor(v) || v < -2147483648.0 || v > 2147483647.0) {
    ThrowRange(info.Env(), std::string(name) + " must be an integer in [-2^31, 2^31-1]");
  }
  return static_cast<int32_t>(v);
}

uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsBigInt()) ThrowType(info.Env(), std::string(name) + " must be a bigint");
  bool lossless = false;
  uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  // Uint64Value reports negative values and values >= 2^64 as lossy.
  if (!lossless) ThrowRange(info.Env(), std::string(name) + " must be in [0, 2^64-1]");
  return v;
}

uint64_t ArgSize(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t max) {
  double v = ArgNumber(info, i, name);
  if (!std::isfinite(v) || v != std::floor(v) || v < 0 || v > static_cast<double>(max)) {
    ThrowRange(info.Env(), std::string(name) + " must be an integer in [0, " + std::to_string(max) + "]");
  }
  return static_cast<uint64_t>(v);
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name, bool dflt) {
  if (info.Length() <= i || info[i].IsUndefined()) return dflt;
  if (!info[i].IsBoolean()) ThrowType(info.Env(), std::string(name) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::string ArgPath(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsString()) ThrowType(info.Env(), std::string(name) + " must be a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.empty() || s.find('\0') != std::string::npos) {
    ThrowType(info.Env(), std::string(name) + " must be a non-empty path without NUL bytes");
  }
  return s;
}

}  // namespace kfdsvm
