/*
 * The sanitizer run's self-check: a tiny Node-API module built with the same -fsanitize flags as the addon,
 * with one deliberate use after free (`overflow()`), one deliberate signed overflow (`ubOverflow(n)`), one
 * deliberate leak (`leak()`) and,
 * in its ThreadSanitizer build (-DCANARY_TSAN), one deliberate data race (`race()`). run.sh calls each in a
 * child node process first and requires a report from each; if one goes unreported (runtime not
 * preloaded, options lost, log_path not written, the report filter blind), every later "no report" would
 * prove nothing, so the run fails.
 */
#include <limits.h>
#include <pthread.h>
#include <node_api.h>
#include <stdlib.h>

static napi_value Overflow(napi_env env, napi_callback_info info) {
  (void)info;
  volatile char *p = malloc(8);
  free((void *)p);
  p[0] = 1; /* heap-use-after-free: only ASan sees it */
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value UbOverflow(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_int32(env, argv[0], &n);
  volatile int x = INT_MAX;
  x += n; /* signed overflow for n > 0 */
  napi_value r;
  napi_create_int32(env, x, &r);
  return r;
}

static napi_value Leak(napi_env env, napi_callback_info info) {
  (void)info;
  for (int i = 0; i < 4; i++) {
    char *volatile p = malloc(4096); /* dropped: a leak only LeakSanitizer sees, at exit */
    p[0] = (char)i;
  }
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static int shared_counter;
static void *Bump(void *arg) {
  (void)arg;
  for (int i = 0; i < 100000; i++) shared_counter++; /* unsynchronised: a data race with the other thread */
  return NULL;
}

static napi_value Race(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_t a, b;
  pthread_create(&a, NULL, Bump, NULL);
  pthread_create(&b, NULL, Bump, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  napi_value r;
  napi_create_int32(env, shared_counter, &r);
  return r;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value f;
  napi_create_function(env, "overflow", NAPI_AUTO_LENGTH, Overflow, NULL, &f);
  napi_set_named_property(env, exports, "overflow", f);
  napi_create_function(env, "ubOverflow", NAPI_AUTO_LENGTH, UbOverflow, NULL, &f);
  napi_set_named_property(env, exports, "ubOverflow", f);
  napi_create_function(env, "leak", NAPI_AUTO_LENGTH, Leak, NULL, &f);
  napi_set_named_property(env, exports, "leak", f);
  napi_create_function(env, "race", NAPI_AUTO_LENGTH, Race, NULL, &f);
  napi_set_named_property(env, exports, "race", f);
  return exports;
}
