#!/usr/bin/env bash
# Runs test/native's device-facing files inside a QEMU guest with the real amdgpu KFD driver (a CPU-only
# KFD), through scripts/kernel-vm/run-in-vm.sh (which needs its cached guest kernel: build-kernel.sh).
#   scripts/native/run-in-guest.sh [svm|nosvm]
# The guest sees the repo read-only, so the vitest config goes to .cache/ (git-ignored) and vite's cache
# to the guest's /tmp. The addon must already be built or prebuilt on the host.
set -euo pipefail
cd "$(dirname "$0")/../.."
kernel="${1:-svm}"
mkdir -p .cache/native-vm
cat > .cache/native-vm/vitest.config.mjs <<CONF
export default {
  root: "$PWD",
  cacheDir: "/tmp/vite-native",
  test: {
    include: ["test/native/kfd-device.test.ts", "test/native/device.test.ts", "test/native/smi.test.ts", "test/native/memory.test.ts"],
    pool: "forks", fileParallelism: false, testTimeout: 300000, hookTimeout: 300000,
  },
};
CONF
exec scripts/kernel-vm/run-in-vm.sh --kernel "$kernel" --mode hmm --out "/tmp/kfd-svm-native-vm-$kernel" -- \
  node node_modules/vitest/vitest.mjs run --config .cache/native-vm/vitest.config.mjs --configLoader runner --reporter=verbose
