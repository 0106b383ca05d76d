/**
 * SvmBuffer.read()/write() and `bytes` where external ArrayBuffers are forbidden, on the simulator. The
 * runtime refusal itself is the addon's (test/native/no-external-buffers.test.ts runs builds that refuse);
 * here a MappedMemory whose `buffer` throws ExternalBuffersForbiddenError, as the kfd backend's does then,
 * stands in for it, so the API's rules are checked on every machine.
 */
import { describe, expect, it } from 'vitest';
import type { MappedMemory } from '../../../src/backend/contract.js';
import { ExternalBuffersForbiddenError } from '../../../src/backend/errors.js';
import { SVM_ERROR_CODES, defaultHint } from '../../../src/errors.js';
import { open, type Device } from '../../../src/index.js';
import { rangeMemory, SvmBuffer } from '../../../src/svm-buffer.js';
import { code, svmErrorOf } from './svm-error-code.js';
import { hostStub } from './host-stub.js';

/** A sim mapping seen the way a runtime without external buffers shows it: read/write, no buffer. */
function caged(m: MappedMemory): MappedMemory {
  return {
    address: m.address,
    size: m.size,
    get buffer(): ArrayBuffer {
      throw new ExternalBuffersForbiddenError('this runtime forbids external ArrayBuffers');
    },
    read: (o, t) => m.read(o, t),
    write: (o, s) => m.write(o, s),
    get freed() {
      return m.freed;
    },
    free: () => m.free(),
  };
}

async function withDevice(f: (d: Device) => Promise<void>): Promise<void> {
  const d = await open({ backend: 'sim', profile: 'mi250x' });
  try {
    await f(d);
  } finally {
    await d.close();
  }
}

describe('a runtime without external ArrayBuffers', () => {
  it('bytes is ENOEXTBUF with a hint naming read() and write(); the copies work', async () => {
    await withDevice(async (d) => {
      const real = await d.alloc(8192);
      const mem = rangeMemory(real) as MappedMemory;
      const host = hostStub();
      const buf = new SvmBuffer(host, caged(mem));
      const se = svmErrorOf(() => buf.bytes);
      expect(se.code).toBe('ENOEXTBUF');
      expect(se.hint).toContain('buf.read(');
      expect(se.hint).toContain('buf.write(');
      expect(se.errno).toBeUndefined();
      buf.write(100, new Uint8Array([1, 2, 3]));
      expect([...buf.read(99, 5)]).toEqual([0, 1, 2, 3, 0]);
      expect([...real.bytes.subarray(100, 103)]).toEqual([1, 2, 3]); // the same memory
    });
  });

  it('ENOEXTBUF is a listed code with its own hint, distinct from EBACKEND', () => {
    expect(SVM_ERROR_CODES).toContain('ENOEXTBUF');
    expect(defaultHint('ENOEXTBUF')).toMatch(/read\(.*write\(/);
    expect(defaultHint('EBACKEND')).not.toContain('external');
  });
});

describe('SvmBuffer.read / write on the simulator', () => {
  it('read(offset, length) returns a copy, not a view: changing it leaves the buffer alone', async () => {
    await withDevice(async (d) => {
      const buf = await d.alloc(4096);
      buf.bytes.fill(7);
      const copy = buf.read(10, 4);
      copy.fill(9);
      expect(buf.bytes[10]).toBe(7);
      expect(copy.buffer).not.toBe(buf.bytes.buffer);
    });
  });

  it('a range too large to back reads as zeros without being backed; a write there is EBACKEND', async () => {
    await withDevice(async (d) => {
      const buf = await d.alloc(64 * 2 ** 30, { align2M: true });
      const mem = rangeMemory(buf) as MappedMemory & { backed: boolean };
      const got = new Uint8Array(16).fill(0xee);
      buf.read(40 * 2 ** 30, got);
      expect([...got]).toEqual(Array(16).fill(0));
      expect(mem.backed).toBe(false);
      expect(code(() => buf.write(40 * 2 ** 30, new Uint8Array(1)))).toBe('EBACKEND');
      buf.write(0, new Uint8Array(0)); // nothing to copy: nothing to back
      expect(mem.backed).toBe(false);
      // A copy larger than V8 can allocate is ENOMEM with a way out, not V8's RangeError.
      const big = svmErrorOf(() => buf.read(0, 32 * 2 ** 30));
      expect(big.code).toBe('ENOMEM');
      expect(big.hint).toContain('read(offset, target)');
    });
  });

  it('a small range is backed on its first write, and reads what was written', async () => {
    await withDevice(async (d) => {
      const buf = await d.alloc(8192);
      const mem = rangeMemory(buf) as MappedMemory & { backed: boolean };
      expect([...buf.read(0, 4)]).toEqual([0, 0, 0, 0]);
      expect(mem.backed).toBe(false);
      buf.write(8191, new Uint8Array([5]));
      expect(mem.backed).toBe(true);
      expect(buf.read(8190, 2)[1]).toBe(5);
    });
  });

  it('errors name the call', async () => {
    await withDevice(async (d) => {
      const buf = await d.alloc(4096);
      expect(() => buf.write(4096, new Uint8Array(1))).toThrow(/^write: 1 bytes at offset 4096 run past the end/);
      expect(() => buf.read(-1, 1)).toThrow(/^read: offset must be/);
      expect(() => buf.read(0, 'x' as never)).toThrow(/^read: target must be a TypedArray/);
    });
  });
});
