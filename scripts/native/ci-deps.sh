#!/usr/bin/env bash
# System packages the native tests need, installed only where missing (CI runs as root on Debian):
# linux-libc-dev for /usr/include/linux/kfd_ioctl.h (the ABI cross-check), g++/make for the header check
# and source builds, cmake for the cmake-js build. Nothing here is needed to load the committed prebuild.
set -euo pipefail
need=()
[ -f /usr/include/linux/kfd_ioctl.h ] || need+=(linux-libc-dev)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v cmake >/dev/null || need+=(cmake)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "native: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "native: missing ${need[*]} (not root or no apt-get); the tests that need them will be skipped" >&2
  fi
fi
