/**
 * The addon where external ArrayBuffers are forbidden (Electron 21+ and its V8 memory cage), in the two ways
 * that happens, each a test build of the same sources (test/native/variant-build.ts):
 * - 'no-external-buffers': compiled with NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED (no external-buffer API);
 * - 'refusing-runtime': napi_create_external_arraybuffer answers napi_no_external_buffers_allowed at run
 *   time (test/native/extbuf-shim.c stands in for the runtime: Node 20 itself allows external buffers).
 * Either way memAlloc gives `buffer: null`, the handle alone owns the pages (free() and the finalizer unmap
 * them), memRead/memWrite reach them, and the API above says ENOEXTBUF for `bytes` and copies instead.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExternalBuffersForbiddenError } from '../../src/backend/errors.js';
import type { NativeAddon } from '../../src/backend/kfd/index.js';
import { KfdMappedMemory } from '../../src/backend/kfd/memory.js';
import { SvmBuffer } from '../../src/svm-buffer.js';
import { hostStub } from '../unit/api/host-stub.js';
import { svmErrorOf } from '../unit/api/svm-error-code.js';
import { gcUntil, isMapped } from './helpers.js';
import { buildVariants, canBuildVariants, type Variant } from './variant-build.js';
import { mark, unmappedState, untilUnmapped } from './unmapped.mjs';

const require = createRequire(import.meta.url);
const MODE = 'KFD_SVM_TEST_EXTBUF';


/** Random bytes written into the mapping with memWrite; their digest (the fingerprint unmapped.mjs checks). */
function markMapping(a: NativeAddon, m: ReturnType<NativeAddon['memAlloc']>): string {
  const bytes = new Uint8Array(m.size);
  const print = mark(bytes);
  a.memWrite(m.handle, 0, bytes);
  return print;
}

describe.runIf(canBuildVariants())('the addon without external ArrayBuffers', () => {
  const built: Partial<Record<Variant, NativeAddon>> = {};
  let saved: string | undefined;
  beforeAll(async () => {
    const paths = await buildVariants();
    for (const v of Object.keys(paths) as Variant[]) built[v] = require(paths[v]) as NativeAddon;
    saved = process.env[MODE];
    process.env[MODE] = 'refuse'; // read by the shim at each call (setenv: Node writes through to environ)
  }, 240_000);
  afterAll(() => {
    if (saved === undefined) delete process.env[MODE];
    else process.env[MODE] = saved;
  });

  describe.each(['no-external-buffers', 'refusing-runtime'] as const)('%s', (variant) => {
    const a = (): NativeAddon => built[variant] as NativeAddon;

    it('memAlloc maps the memory and gives buffer: null; memWrite/memRead reach the pages', () => {
      const m = a().memAlloc(3 * 4096 + 5, true);
      expect(m.buffer).toBeNull();
      expect(m.size).toBe(4 * 4096);
      expect(m.address % (2n << 20n)).toBe(0n);
      expect(isMapped(m.address, m.size)).toBe(true);
      expect(a().memPeek(m.address, m.size).every((x) => x === 0)).toBe(true);
      a().memWrite(m.handle, 4094, Buffer.from('cage'));
      expect(Buffer.from(a().memPeek(m.address + 4094n, 4)).toString()).toBe('cage');
      const back = new Uint8Array(6);
      a().memRead(m.handle, 4093, back);
      expect([...back]).toEqual([0, ...Buffer.from('cage'), 0]);
      expect(() => a().memRead(m.handle, m.size, new Uint8Array(1))).toThrow(RangeError);
      a().memFree(m.handle);
    });

    it('free() unmaps (nothing to detach); reads and writes after it are EFAULT; free is idempotent', async () => {
      const m = a().memAlloc(2 * 4096);
      const print = markMapping(a(), m);
      a().memFree(m.handle);
      expect(a().memIsFreed(m.handle)).toBe(true);
      expect(() => a().memRead(m.handle, 0, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'EFAULT', syscall: 'memcpy' }));
      expect(() => a().memFree(m.handle)).not.toThrow();
      const states = await untilUnmapped((i) => {
        if (i === 0) return unmappedState(a().memPeek, m.address, m.size, print);
        const again = a().memAlloc(2 * 4096);
        const p = markMapping(a(), again);
        a().memFree(again.handle);
        return unmappedState(a().memPeek, again.address, again.size, p);
      });
      expect(states.at(-1)).toBe('unmapped');
    });

    it('the handle alone owns the pages: collected, the finalizer unmaps them', async () => {
      const states = await untilUnmapped(async () => {
        let m: ReturnType<NativeAddon['memAlloc']> | undefined = a().memAlloc(5 * 4096, true);
        const { address, size } = m;
        const print = markMapping(a(), m);
        m = undefined;
        let state = unmappedState(a().memPeek, address, size, print);
        await gcUntil(() => (state = unmappedState(a().memPeek, address, size, print)) !== 'ours');
        return state;
      });
      expect(states.at(-1)).toBe('unmapped');
    });

    it('through the backend and the API: buffer throws the typed error, bytes is ENOEXTBUF naming read()/write(), copies work', () => {
      const mem = new KfdMappedMemory(a(), a().memAlloc(8192));
      expect(() => mem.buffer).toThrow(ExternalBuffersForbiddenError);
      const buf = new SvmBuffer(hostStub(), mem);
      const err = svmErrorOf(() => buf.bytes);
      expect(err.code).toBe('ENOEXTBUF');
      expect(err.hint).toMatch(/read\(.*write\(/);
      expect(err.cause).toBeInstanceOf(ExternalBuffersForbiddenError);
      buf.write(8190, new Uint8Array([1, 2]));
      expect([...buf.read(8189, 3)]).toEqual([0, 1, 2]);
      const dv = buf.read(8190, new DataView(new ArrayBuffer(2)));
      expect(dv.getUint16(0, true)).toBe(0x0201);
      buf.free();
      expect(() => buf.read(0, 1)).toThrow(expect.objectContaining({ code: 'EFREED' }));
      mem.free(); // the Device unmaps a released buffer's memory; this stub leaves it to us
      expect(() => mem.read(0, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    });
  });

  describe('refusing-runtime: only napi_no_external_buffers_allowed means "no buffer"', () => {
    it('without the refusal the shim passes the call through: an external buffer over the mapping', () => {
      const a = built['refusing-runtime'] as NativeAddon;
      process.env[MODE] = 'pass';
      try {
        const m = a.memAlloc(4096);
        expect(m.buffer).toBeInstanceOf(ArrayBuffer);
        new Uint8Array(m.buffer as ArrayBuffer)[7] = 77;
        expect(a.memPeek(m.address + 7n, 1)[0]).toBe(77);
        a.memFree(m.handle);
        expect((m.buffer as ArrayBuffer).byteLength).toBe(0); // detached by free
      } finally {
        process.env[MODE] = 'refuse';
      }
    });

    it('any other failure of napi_create_external_arraybuffer fails the allocation with an Error', () => {
      const a = built['refusing-runtime'] as NativeAddon;
      process.env[MODE] = 'fail';
      try {
        expect(() => a.memAlloc(4096)).toThrow(Error);
      } finally {
        process.env[MODE] = 'refuse';
      }
      const m = a.memAlloc(4096); // the addon is fine after it
      expect(m.buffer).toBeNull();
      a.memFree(m.handle);
    });
  });
});
