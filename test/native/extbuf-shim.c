/*
 * Linked into a test build of the addon with -Wl,--wrap=napi_create_external_arraybuffer
 * (test/native/variant-build.ts): the addon's calls to napi_create_external_arraybuffer land here, so the
 * status a runtime with V8's memory cage answers (Electron 21+: napi_no_external_buffers_allowed) can be
 * produced on Node 20, which allows external buffers. KFD_SVM_TEST_EXTBUF, read at each call:
 *   refuse   napi_no_external_buffers_allowed, as such a runtime answers (it takes no ownership of anything)
 *   fail     napi_generic_failure after running the finalizer, as node::Buffer::New does when it refuses a
 *            length (it owns the hint from then on): memAlloc must throw, not hide it, and not drop the hint
 *            a second time
 *   (else)   the real call
 */
#include <stdlib.h>
#include <string.h>

#include <node_api.h>

napi_status __real_napi_create_external_arraybuffer(napi_env env, void* data, size_t len, napi_finalize cb,
                                                     void* hint, napi_value* result);

napi_status __wrap_napi_create_external_arraybuffer(napi_env env, void* data, size_t len, napi_finalize cb,
                                                     void* hint, napi_value* result) {
  const char* mode = getenv("KFD_SVM_TEST_EXTBUF");
  if (mode && strcmp(mode, "refuse") == 0) return napi_no_external_buffers_allowed;
  if (mode && strcmp(mode, "fail") == 0) {
    cb(env, data, hint);
    return napi_generic_failure;
  }
  return __real_napi_create_external_arraybuffer(env, data, len, cb, hint, result);
}
