/**
 * The vitest config the QEMU guest runs (scripts/kernel-vm/ci.sh): only test/kernel-vm/*-guest, one file at a
 * time, and vite's cache under /tmp because the guest sees the repo read-only.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  cacheDir: '/tmp/kfd-svm-vite',
  test: {
    // Only the guest suites: the host-side comparisons (fixtures vs sim) run in the ordinary `npm test`.
    include: ['test/kernel-vm/**/*-guest.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    // Software-emulated CPU: everything is ~10x slower than on the host.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
