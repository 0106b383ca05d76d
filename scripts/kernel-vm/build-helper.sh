#!/usr/bin/env bash
# Builds test/hmm-helper/hmm-helper.c as a static binary into the cache (keyed by the source's hash)
# and prints its path. The guest runs it from the host file system.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SRC_C="$REPO_DIR/test/hmm-helper/hmm-helper.c"
KEY="$(sha256sum "$SRC_C" | cut -c1-16)"
BIN="$CACHE_DIR/hmm-helper/$KEY/hmm-helper"
if [ ! -x "$BIN" ]; then
  command -v gcc >/dev/null || ensure_packages gcc libc6-dev
  mkdir -p "$(dirname "$BIN")"
  gcc -static -O2 -Wall -Wextra -Werror -o "$BIN.tmp" "$SRC_C" || die "cannot build $SRC_C"
  mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
