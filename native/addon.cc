// kfd-svm native addon: the module entry point. Each kernel surface registers its own exports.
#include <napi.h>

#include "constants.h"
#include "device.h"
#include "memory.h"
#include "smi.h"
#include "svm.h"

#ifndef KFD_SVM_SOURCE_HASH
#error "KFD_SVM_SOURCE_HASH must be defined by the build (native/source-hash.mjs)"
#endif
#ifndef KFD_SVM_BUILD_SYSTEM
#define KFD_SVM_BUILD_SYSTEM "unknown"
#endif

namespace kfdsvm {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // sourceHash: sha256 of the native sources this binary was built from, so a test can tell a stale
  // committed prebuild from a current one. buildSystem: 'node-gyp' or 'cmake-js'.
  exports.Set("sourceHash", Napi::String::New(env, KFD_SVM_SOURCE_HASH));
  exports.Set("buildSystem", Napi::String::New(env, KFD_SVM_BUILD_SYSTEM));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  InitConstants(env, exports);
  InitDevice(env, exports);
  InitSvm(env, exports);
  InitMemory(env, exports);
  InitSmi(env, exports);
  return exports;
}

}  // namespace kfdsvm

static Napi::Object InitKfdSvm(Napi::Env env, Napi::Object exports) { return kfdsvm::Init(env, exports); }

NODE_API_MODULE(kfd_svm, InitKfdSvm)
