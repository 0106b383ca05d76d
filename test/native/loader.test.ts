/**
 * loadAddon(): lazy, overridable with KFD_SVM_NATIVE_PATH, and on failure a clear Error (platform, where
 * it looked, what to do) that is cached and thrown again. Each case imports a fresh copy of the module.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sourceHash } from '../../native/source-files.mjs';

type AddonModule = typeof import('../../src/backend/kfd/addon.js');
const fresh = async (): Promise<AddonModule> => {
  vi.resetModules();
  return import('../../src/backend/kfd/addon.js');
};

// Restore what the environment had (the sanitizer run sets KFD_SVM_NATIVE_PATH for the whole process).
const original = process.env.KFD_SVM_NATIVE_PATH;
afterEach(() => {
  if (original === undefined) delete process.env.KFD_SVM_NATIVE_PATH;
  else process.env.KFD_SVM_NATIVE_PATH = original;
});

describe('loadAddon', () => {
  it('explains a failure (platform, where, what to do) and throws the same Error again', async () => {
    process.env.KFD_SVM_NATIVE_PATH = '/nonexistent/kfd_svm.node';
    const m = await fresh();
    expect(m.addonLoadError()).toBeUndefined();
    let first: unknown;
    try {
      m.loadAddon();
    } catch (e) {
      first = e;
    }
    expect(first).toBeInstanceOf(Error);
    const msg = (first as Error).message;
    expect(msg).toContain(`${process.platform}-${process.arch}`);
    expect(msg).toContain('KFD_SVM_NATIVE_PATH=/nonexistent/kfd_svm.node');
    expect(msg).toMatch(/npm run build:native/);
    expect(msg).toMatch(/KFD_SVM_BACKEND=sim/);
    expect(() => m.loadAddon()).toThrow(first as Error);
    expect(m.addonLoadError()).toBe(first);
  });

  it('KFD_SVM_NATIVE_PATH loads that binary', async () => {
    const m0 = await fresh();
    const root = m0.packageRoot();
    process.env.KFD_SVM_NATIVE_PATH = join(root, 'prebuilds', 'linux-x64', 'kfd-svm.node');
    const m = await fresh();
    if (process.platform !== 'linux' || process.arch !== 'x64') return;
    expect(m.loadAddon().buildSystem).toBe('node-gyp');
  });

  it('by default loads the addon node-gyp-build finds, and it is built from the current sources', async () => {
    delete process.env.KFD_SVM_NATIVE_PATH;
    const m = await fresh();
    const a = m.loadAddon();
    expect(m.loadAddon()).toBe(a); // loaded once
    // A stale build/Release (loaded before prebuilds/) fails here: run npm run build:native.
    expect(a.sourceHash).toBe(sourceHash(m.packageRoot()));
  });
});
