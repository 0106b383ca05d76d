/*
 * The least any Node-API addon can do for one ioctl: read (fd, request) from JS, issue the ioctl on an 8-byte
 * argument, return 0 or errno as a number. No handle check, no object, no exception. The bridge benchmark
 * compiles it at run time (cc -O2 -shared, against the Node-API headers) into bench/out/ and runs it beside
 * the addon, to tell the cost of calling into native code from Node at all from the cost of the addon's design.
 */
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <sys/ioctl.h>

static napi_value IoctlErrno(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  double request = 0;
  napi_value out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_double(env, argv[1], &request) != napi_ok) {
    napi_throw_type_error(env, NULL, "ioctlErrno(fd: number, request: number)");
    return NULL;
  }
  uint32_t arg[2] = {0, 0};
  int r = ioctl(fd, (unsigned long)request, arg);
  napi_create_int32(env, r < 0 ? errno : 0, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "ioctlErrno", NAPI_AUTO_LENGTH, IoctlErrno, NULL, &fn);
  napi_set_named_property(env, exports, "ioctlErrno", fn);
  return exports;
}
