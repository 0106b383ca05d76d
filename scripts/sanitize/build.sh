#!/usr/bin/env bash
# Builds the addon with sanitizers (cmake-js over native/CMakeLists.txt, the same source list as
# binding.gyp). Prints the path of the .node on stdout.
#
# The flags go in CMAKE_CXX_FLAGS_RELWITHDEBINFO because cmake-js sets CMAKE_CXX_FLAGS on its own command
# line and overwrites ours (a build that silently lost them is caught by the nm check at the end).
# -fno-sanitize-recover=undefined makes every UB report fatal (UBSan otherwise prints and carries on);
# -fno-omit-frame-pointer keeps the reports' stacks whole; -O1 as the sanitizer manuals advise.
#
#   scripts/sanitize/build.sh          ASan + UBSan into build-asan/
#   scripts/sanitize/build.sh thread   ThreadSanitizer into build-tsan/ (TSan cannot share a build with ASan)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" = thread ]; then
  OUT=build-tsan
  SAN=thread
  FLAGS="-fsanitize=thread -fno-omit-frame-pointer -g"
  MUST=(__tsan_read __tsan_write)
else
  OUT=build-asan
  SAN=address,undefined
  FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
  MUST=(__asan_report __ubsan_handle)
fi
ARGS=(-d native -O "$OUT" -B RelWithDebInfo --CDCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g $FLAGS"
  --CDCMAKE_SHARED_LINKER_FLAGS="-fsanitize=$SAN")
# configure every time (cheap) so a change of FLAGS reaches the cache; build is incremental.
npx cmake-js configure "${ARGS[@]}" >&2
nice npx cmake-js build "${ARGS[@]}" >&2
node=$(find "$OUT" -name kfd_svm.node -print -quit)
if [ -z "$node" ]; then
  echo "sanitize/build.sh: no kfd_svm.node under $OUT" >&2
  exit 1
fi
# The binary must really be instrumented: a plain build would pass every run and prove nothing.
syms=$(nm -D "$node")
for sym in "${MUST[@]}"; do
  if ! grep -q "$sym" <<<"$syms"; then
    echo "sanitize/build.sh: $node is not instrumented (no $sym)" >&2
    exit 1
  fi
done
echo "$PWD/$node"
