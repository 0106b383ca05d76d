#!/usr/bin/env bash
# Runs the native, contract and safety test suites with the ASan + UBSan build of the addon loaded into
# every node process (vitest's workers and the children the safety tests spawn). Any sanitizer report
# fails the run, as does any test failure.
#
#   scripts/sanitize/run.sh                    # build (incremental) and run
#   scripts/sanitize/run.sh test/safety        # only some suites (vitest filters)
#
# How: node itself is not instrumented, so the ASan runtime must be the first library loaded (LD_PRELOAD
# of g++'s libasan.so); the addon's UBSan runtime comes in as its dependency. The build is picked by
# KFD_SVM_NATIVE_PATH, which src/backend/kfd/addon.ts loadAddon() honours. Leak detection is off: node
# never frees much of its own heap at exit, and LSan cannot tell those leaks from the addon's (every
# addon stack runs through node frames, so no suppression separates them); the addon's resource leaks are
# what test/safety/leaks.test.ts measures instead (fds and mappings).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

addon=$(scripts/sanitize/build.sh)
libasan=$(${CXX:-g++} -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
  echo "sanitize/run.sh: no libasan.so for ${CXX:-g++} (install the compiler's ASan runtime, e.g. libasan8)" >&2
  exit 1
fi

logdir=$(mktemp -d "${TMPDIR:-/tmp}/kfd-svm-sanitize.XXXXXX")
trap 'rm -rf "$logdir"' EXIT
# halt_on_error: the first report ends the process (non-zero exit), and the report is kept in
# $logdir/asan.<pid> whichever process it happened in. UBSan ignores log_path when running next to
# ASan's runtime here (gcc 12), so its reports are found in the captured output instead.
asan_opts="detect_leaks=0:halt_on_error=1:abort_on_error=0:log_path=$logdir/asan:strict_string_checks=1"
asan_opts+=":detect_stack_use_after_return=1:check_initialization_order=1"
# node installs its own SIGSEGV handler (V8 trap handler), which would hide a segfault from ASan.
asan_opts+=":allow_user_segv_handler=0"
ubsan_opts="halt_on_error=1:print_stacktrace=1"

run_sanitized() {
  LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}" ASAN_OPTIONS="$asan_opts" UBSAN_OPTIONS="$ubsan_opts" \
    KFD_SVM_NATIVE_PATH="$addon" KFD_SVM_SANITIZE=1 "$@"
}

reports() {
  local out=$1
  ls "$logdir"/asan.* 2>/dev/null || true
  grep -E 'ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$out" || true
}

# 1. Self-check: the pipeline must catch a deliberate use-after-free and a deliberate signed overflow.
canary="$root/build-asan/canary/canary.node"
mkdir -p "$(dirname "$canary")"
${CC:-gcc} -shared -fPIC -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  -I "$(node -p "require('node-api-headers').include_dir")" -o "$canary" scripts/sanitize/canary.c
for call in 'overflow()' 'ubOverflow(1)'; do
  out="$logdir/canary.out"
  if run_sanitized node -e "require(process.argv[1]).$call" "$canary" >"$out" 2>&1; then
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
echo "sanitize/run.sh: canary caught (ASan use-after-free, UBSan signed overflow); running the suites with $addon"

# 2. The suites.
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(test/native test/contract test/safety)
out="$logdir/vitest.out"
set +e
run_sanitized node node_modules/vitest/vitest.mjs run "${suites[@]}" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
found=$(reports "$out")
if [ -n "$found" ]; then
  echo "sanitize/run.sh: sanitizer reports:" >&2
  for f in "$logdir"/asan.*; do [ -e "$f" ] && cat "$f" >&2; done
  echo "$found" >&2
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  echo "sanitize/run.sh: the suites failed under the sanitizers (exit $rc)" >&2
  exit "$rc"
fi
echo "sanitize/run.sh: no sanitizer reports; ${suites[*]} passed"
