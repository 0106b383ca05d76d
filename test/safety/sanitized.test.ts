/**
 * Under scripts/sanitize/run.sh (which sets KFD_SVM_SANITIZE=1): proves that the run really exercises the
 * instrumented addon, so "no reports" means something. The ASan runtime must be mapped into this process
 * and the addon loadAddon() returns must be the binary from build-asan/, itself linked to the sanitizer
 * runtimes. Outside that run there is nothing to check, and the case is skipped.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../../src/backend/kfd/index.js';

const sanitized = process.env.KFD_SVM_SANITIZE === '1';

describe.runIf(sanitized)('the sanitizer run', () => {
  it('loads the ASan/UBSan build of the addon into a process with the ASan runtime', () => {
    const addon = loadAddon();
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const path = process.env.KFD_SVM_NATIVE_PATH ?? '';
    expect(path).toMatch(/build-asan\/.*kfd_svm\.node$/);
    expect(addon.buildSystem).toBe('cmake-js');
    expect(maps).toMatch(/libasan\.so/);
    expect(maps).toMatch(/libubsan\.so/);
    expect(maps).toContain(path);
  });
});
