/**
 * The two builds of native/sources.json agree: the node-gyp artefact (the committed prebuild, which
 * prebuildify makes with node-gyp) and a cmake-js build of native/CMakeLists.txt load side by side and
 * export the same functions, the same ABI constants and the same source hash, and both work.
 *
 * The cmake-js build goes to .cache/cmake-js-test (git-ignored); cmake rebuilds only what changed, so a
 * warm run costs a second and a cold one about 20-40 s on 2 cores.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageRoot, type NativeAddon } from '../../src/backend/kfd/index.js';

const root = packageRoot();
const require = createRequire(import.meta.url);
const has = (cmd: string) => {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const canBuild = process.platform === 'linux' && process.arch === 'x64' && has('cmake') && has('g++');

describe.runIf(canBuild)('node-gyp and cmake-js builds of the same sources', () => {
  let gyp: NativeAddon;
  let cmake: NativeAddon;

  beforeAll(() => {
    const out = join(root, '.cache', 'cmake-js-test');
    const cli = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
    execFileSync('nice', [process.execPath, cli, 'compile', '-d', 'native', '-O', out], {
      cwd: root,
      stdio: 'pipe',
      env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: '2' },
    });
    const built = join(out, 'Release', 'kfd_svm.node');
    expect(existsSync(built)).toBe(true);
    cmake = require(built) as NativeAddon;
    gyp = require(join(root, 'prebuilds', 'linux-x64', 'kfd-svm.node')) as NativeAddon;
  }, 240_000);

  it('each says which build made it', () => {
    expect(gyp.buildSystem).toBe('node-gyp');
    expect(cmake.buildSystem).toBe('cmake-js');
  });

  it('same exported names and kinds', () => {
    const shape = (a: NativeAddon) => Object.entries(a).map(([k, v]) => `${k}:${typeof v}`).sort();
    expect(shape(cmake)).toEqual(shape(gyp));
  });

  it('same ABI constants and source hash', () => {
    expect(cmake.abi).toEqual(gyp.abi);
    expect(cmake.sourceHash).toBe(gyp.sourceHash);
    expect(cmake.pageSize).toBe(gyp.pageSize);
    expect(cmake.napiVersion).toBe(gyp.napiVersion);
  });

  it('both work: ENOTTY from /dev/null, and memory written through one view reads back', () => {
    for (const a of [gyp, cmake]) {
      const h = a.kfdOpen('/dev/null');
      expect(() => a.kfdGetVersion(h, new Uint32Array(2))).toThrow(expect.objectContaining({ code: 'ENOTTY', syscall: 'ioctl' }));
      a.kfdClose(h);
      const m = a.memAlloc(4096);
      const buf = m.buffer as ArrayBuffer; // Node 20 allows external buffers
      new Uint8Array(buf)[9] = 99;
      expect(a.memPeek(m.address + 9n, 1)[0]).toBe(99);
      a.memFree(m.handle);
      expect(buf.byteLength).toBe(0);
    }
  });
});
