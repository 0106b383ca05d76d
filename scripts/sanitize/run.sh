#!/usr/bin/env bash
# Runs the test suites with sanitizer builds of the addon loaded into every node process (vitest's workers
# and the children the safety tests spawn). Any sanitizer report about the addon fails the run, as does
# any test failure.
#
#   scripts/sanitize/run.sh                    # both stages
#   scripts/sanitize/run.sh test/safety        # ASan stage on some suites only (vitest filters), then TSan
#   KFD_SVM_SANITIZE_STAGES=asan scripts/sanitize/run.sh
#
# Stage asan: AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/) over test/native, test/contract
# and test/safety. node itself is not instrumented, so the ASan runtime must be the first library loaded
# (LD_PRELOAD of g++'s libasan.so); the addon's UBSan runtime comes in as its dependency.
# Leaks: vitest's worker processes never exit normally, so LeakSanitizer runs in the child processes that
# test/safety starts (thousands of calls per export, failing half-way too; test/safety/child.ts turns it on
# with KFD_SVM_LSAN=1). node frees little of its own heap at exit, so a leak fails the stage only when the
# addon's code allocated it (scripts/sanitize/lsan-reports.mjs). fds, mappings and threads are measured by
# test/safety/leaks.test.ts.
#
# Stage tsan: ThreadSanitizer (build-tsan/) over the concurrency cases of test/safety/misuse.test.ts
# (SMI read threads, SVM calls on the libuv pool, worker_threads side by side and terminated). TSan also
# reports races inside node and V8, whose synchronisation it cannot see; only reports with the addon in
# their top frames count (scripts/sanitize/tsan-reports.mjs).
#
# Each stage first proves itself on a canary module with deliberate bugs (scripts/sanitize/canary.c).
# The builds are picked by KFD_SVM_NATIVE_PATH, which src/backend/kfd/addon.ts loadAddon() honours.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The physical path: the addon's debug info names its sources by it, and the leak filter matches on it.
root=$(pwd -P)
stages=${KFD_SVM_SANITIZE_STAGES:-asan tsan}
CXX=${CXX:-g++}
CC=${CC:-gcc}
napi_include=$(node -p "require('node-api-headers').include_dir")

logdir=$(mktemp -d "${TMPDIR:-/tmp}/kfd-svm-sanitize.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

runtime() {
  local lib
  lib=$($CXX -print-file-name="$1")
  if [ ! -e "$lib" ]; then
    echo "sanitize/run.sh: no $1 for $CXX (install the compiler's sanitizer runtimes, e.g. libasan8, libtsan2)" >&2
    exit 1
  fi
  echo "$lib"
}

# --- stage asan -------------------------------------------------------------------------------------
asan_stage() {
  local addon libasan asan_opts ubsan_opts canary out rc found
  addon=$(scripts/sanitize/build.sh)
  libasan=$(runtime libasan.so)
  # halt_on_error: the first report ends the process (non-zero exit), and the report is kept in
  # $logdir/asan.<pid> whichever process it happened in. UBSan ignores log_path when running next to
  # ASan's runtime here (gcc 12), so its reports are found in the captured output instead.
  asan_opts="detect_leaks=0:halt_on_error=1:abort_on_error=0:log_path=$logdir/asan:strict_string_checks=1"
  asan_opts+=":detect_stack_use_after_return=1:check_initialization_order=1"
  # node installs its own SIGSEGV handler (V8 trap handler), which would hide a segfault from ASan.
  asan_opts+=":allow_user_segv_handler=0"
  ubsan_opts="halt_on_error=1:print_stacktrace=1"
  run_asan() {
    LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}" ASAN_OPTIONS="$asan_opts" UBSAN_OPTIONS="$ubsan_opts" \
      KFD_SVM_NATIVE_PATH="$addon" KFD_SVM_SANITIZE=1 KFD_SVM_LSAN=1 "$@"
  }
  # ASan and UBSan reports (not leak reports, which lsan-reports.mjs judges): in the log files, or in the
  # captured output.
  reports() {
    local bad='ERROR: AddressSanitizer|runtime error:|Sanitizer: CHECK failed|LeakSanitizer has encountered a fatal error'
    grep -l -E "$bad" "$logdir"/asan.* 2>/dev/null || true
    grep -E "$bad|SUMMARY: UndefinedBehaviorSanitizer" "$1" || true
  }

  # Self-check: the pipeline must catch a deliberate use-after-free and a deliberate signed overflow.
  canary="$root/build-asan/canary/canary.node"
  mkdir -p "$(dirname "$canary")"
  $CC -shared -fPIC -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -I "$napi_include" \
    -o "$canary" scripts/sanitize/canary.c -lpthread
  for call in 'overflow()' 'ubOverflow(1)'; do
    out="$logdir/canary.out"
    if run_asan node -e "require(process.argv[1]).$call" "$canary" >"$out" 2>&1; then
      echo "sanitize/run.sh: the canary's $call ran clean: the sanitizers are not working" >&2
      exit 1
    fi
    if [ -z "$(reports "$out")" ]; then
      echo "sanitize/run.sh: the canary's $call failed without a sanitizer report:" >&2
      cat "$out" >&2
      exit 1
    fi
    rm -f "$logdir"/asan.* "$out"
  done
  # ... and a deliberate leak, checked at exit as the safety children are, found by the same filter.
  ASAN_OPTIONS="$asan_opts:detect_leaks=1:exitcode=0" LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}" \
    node -e "require(process.argv[1]).leak()" "$canary" >/dev/null 2>&1 || true
  if node scripts/sanitize/lsan-reports.mjs scripts/sanitize/canary.c "$logdir"/asan.* >/dev/null 2>&1; then
    echo "sanitize/run.sh: the canary's leak() went unreported: leak detection is not working" >&2
    exit 1
  fi
  rm -f "$logdir"/asan.*
  # The filter knows the addon's leaks by its source paths: they must be what its debug info says.
  if ! grep -aq "$root/native/" "$addon"; then
    echo "sanitize/run.sh: $addon does not name its sources under $root/native/: the leak filter would be blind" >&2
    exit 1
  fi
  echo "sanitize/run.sh: [asan] canary caught (use-after-free, signed overflow, leak); suites with $addon"

  local suites=("$@")
  [ ${#suites[@]} -gt 0 ] || suites=(test/native test/contract test/safety)
  out="$logdir/vitest-asan.out"
  set +e
  run_asan node node_modules/vitest/vitest.mjs run "${suites[@]}" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  found=$(reports "$out")
  if [ -n "$found" ]; then
    echo "sanitize/run.sh: [asan] sanitizer reports:" >&2
    for f in "$logdir"/asan.*; do [ -e "$f" ] && cat "$f" >&2; done
    echo "$found" >&2
    exit 1
  fi
  shopt -s nullglob
  local logs=("$logdir"/asan.*)
  shopt -u nullglob
  if [ ${#logs[@]} -gt 0 ] && ! node scripts/sanitize/lsan-reports.mjs "$root/native/" "${logs[@]}" >"$logdir/lsan-addon.txt"; then
    cat "$logdir/lsan-addon.txt" >&2
    echo "sanitize/run.sh: [asan] memory leaked by the addon (above)" >&2
    exit 1
  fi
  if [ "$rc" -ne 0 ]; then
    echo "sanitize/run.sh: [asan] the suites failed under the sanitizers (exit $rc)" >&2
    exit "$rc"
  fi
  echo "sanitize/run.sh: [asan] no sanitizer reports and no leaks from the addon; ${suites[*]} passed"
}

# --- stage tsan -------------------------------------------------------------------------------------
tsan_stage() {
  local addon libtsan tsan_opts canary out rc
  addon=$(scripts/sanitize/build.sh thread)
  libtsan=$(runtime libtsan.so)
  mkdir -p "$logdir/tsan"
  # Reports must not end processes (node's own would end every one); they are collected and filtered.
  tsan_opts="halt_on_error=0:exitcode=0:report_signal_unsafe=0:log_path=$logdir/tsan/tsan"
  run_tsan() {
    LD_PRELOAD="$libtsan${LD_PRELOAD:+:$LD_PRELOAD}" TSAN_OPTIONS="$tsan_opts" \
      KFD_SVM_NATIVE_PATH="$addon" KFD_SVM_SANITIZE=thread "$@"
  }

  canary="$root/build-tsan/canary/canary-tsan.node"
  mkdir -p "$(dirname "$canary")"
  $CC -shared -fPIC -O1 -g -fsanitize=thread -I "$napi_include" -o "$canary" scripts/sanitize/canary.c -lpthread
  run_tsan node -e "require(process.argv[1]).race()" "$canary" >/dev/null 2>&1 || true
  if node scripts/sanitize/tsan-reports.mjs canary-tsan.node "$logdir"/tsan/tsan.* >/dev/null 2>&1; then
    echo "sanitize/run.sh: [tsan] the canary's race() went unreported: the sanitizer is not working" >&2
    exit 1
  fi
  rm -f "$logdir"/tsan/tsan.*
  echo "sanitize/run.sh: [tsan] canary caught (data race); concurrency cases with $addon"

  out="$logdir/vitest-tsan.out"
  set +e
  run_tsan node node_modules/vitest/vitest.mjs run test/safety/misuse.test.ts -t concurrency 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  shopt -s nullglob
  local logs=("$logdir"/tsan/tsan.*)
  shopt -u nullglob
  if [ ${#logs[@]} -gt 0 ] && ! node scripts/sanitize/tsan-reports.mjs kfd_svm.node "${logs[@]}" >"$logdir/tsan-addon.txt"; then
    cat "$logdir/tsan-addon.txt" >&2
    echo "sanitize/run.sh: [tsan] data races in the addon (above)" >&2
    exit 1
  fi
  if [ "$rc" -ne 0 ]; then
    echo "sanitize/run.sh: [tsan] the concurrency cases failed under ThreadSanitizer (exit $rc)" >&2
    exit "$rc"
  fi
  echo "sanitize/run.sh: [tsan] no data races in the addon"
}

for stage in $stages; do
  case $stage in
    asan) asan_stage "$@" ;;
    tsan) tsan_stage ;;
    *) echo "sanitize/run.sh: unknown stage '$stage' (asan, tsan)" >&2; exit 2 ;;
  esac
done
