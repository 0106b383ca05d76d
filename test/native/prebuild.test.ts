/**
 * The committed prebuild: present for linux-x64, loadable with no build/ directory (what a fresh clone
 * gets), and built from the current native sources (its baked-in source hash equals the hash of the files
 * now). A stale prebuild fails here: run `npm run prebuildify` and commit prebuilds/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot, type NativeAddon } from '../../src/backend/kfd/index.js';
import { sourceHash } from '../../native/source-files.mjs';

const root = packageRoot();
const prebuild = join(root, 'prebuilds', 'linux-x64', 'kfd-svm.node');
const isLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

describe.runIf(isLinuxX64)('prebuilds/linux-x64', () => {
  it('exists', () => {
    expect(existsSync(prebuild)).toBe(true);
  });

  it('was built from the current native sources (else: npm run prebuildify, and commit prebuilds/)', () => {
    const a = createRequire(import.meta.url)(prebuild) as NativeAddon;
    expect(a.buildSystem).toBe('node-gyp');
    expect(a.sourceHash).toBe(sourceHash(root));
  });

  it('is what node-gyp-build loads when only prebuilds count (a fresh clone has no build/)', () => {
    const out = execFileSync(
      process.execPath,
      ['-e', `const a = require('node-gyp-build')(${JSON.stringify(root)}); console.log(a.buildSystem + ' ' + a.sourceHash)`],
      { cwd: root, env: { ...process.env, PREBUILDS_ONLY: '1' }, encoding: 'utf8' },
    ).trim();
    expect(out).toBe(`node-gyp ${sourceHash(root)}`);
  });

  it('needs no glibc newer than 2.28 (the floor of Node 20 itself; native/glibc_compat.cc)', () => {
    let dyn: string;
    try {
      dyn = execFileSync('objdump', ['-T', prebuild], { encoding: 'utf8' });
    } catch {
      return; // no binutils here: nothing to inspect with
    }
    const versions = [...dyn.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => Number(m[1]) * 1000 + Number(m[2]));
    expect(versions.length).toBeGreaterThan(0);
    expect(Math.max(...versions)).toBeLessThanOrEqual(2028);
  });

  it('is tracked by git (so a clone has it)', () => {
    let tracked: string;
    try {
      tracked = execFileSync('git', ['ls-files', 'prebuilds/linux-x64/kfd-svm.node'], { cwd: root, encoding: 'utf8' }).trim();
    } catch {
      return; // not a git checkout (an installed package): nothing to check
    }
    expect(tracked).toBe('prebuilds/linux-x64/kfd-svm.node');
  });
});
