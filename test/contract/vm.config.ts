/**
 * Runs the contract suite against a real kernel inside the QEMU guest of scripts/kernel-vm:
 *   scripts/kernel-vm/run-in-vm.sh --kernel svm -- node node_modules/vitest/vitest.mjs run \
 *     --config test/contract/vm.config.ts --configLoader runner --reporter=verbose
 * (--kernel nosvm checks the ENOSVM refusal instead). The guest sees the repo read-only, so vite's cache
 * goes to /tmp; TCG is slow, so the timeouts are long.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  cacheDir: '/tmp/kfd-svm-vite',
  test: {
    include: ['test/contract/kfd.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
