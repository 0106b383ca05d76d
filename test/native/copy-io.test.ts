/**
 * memRead / memWrite: copies between a mapping and a caller's ArrayBufferView, the way into SVM memory in
 * runtimes that forbid external ArrayBuffers (test/native/no-external-buffers.test.ts runs those builds).
 * Here, on the build of record, the zero-copy view and memPeek (process_vm_readv at the mapping's address)
 * show that the copies reach the mapping itself.
 */
import { constants as bufferConstants } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { KernelError } from '../../src/backend/errors.js';
import { openKfdBackend, type NativeAddon, type NativeMapping } from '../../src/backend/kfd/index.js';
import { KfdMappedMemory } from '../../src/backend/kfd/memory.js';
import { SvmBuffer } from '../../src/svm-buffer.js';
import { addon, isMapped } from './helpers.js';
import { hostStub } from '../unit/api/host-stub.js';

const PAGE = addon.pageSize;
const b = openKfdBackend({ devicePath: '/dev/null' });

/** A mapping of `pages` pages whose bytes are i & 0xff (through the view), freed by the caller. */
function filled(pages: number): NativeMapping & { view: Uint8Array } {
  const m = addon.memAlloc(pages * PAGE);
  const view = new Uint8Array(m.buffer as ArrayBuffer);
  for (let i = 0; i < view.length; i++) view[i] = i & 0xff;
  return Object.assign(m, { view });
}

const detachedView = (): Uint8Array => {
  const u8 = new Uint8Array(new ArrayBuffer(16));
  structuredClone(u8.buffer, { transfer: [u8.buffer] });
  return u8;
};

describe('memRead / memWrite', () => {
  it('a write lands at the mapping address (memPeek) and in the zero-copy view; a read returns it', () => {
    const m = filled(2);
    addon.memWrite(m.handle, 4093, Buffer.from('kfd-svm!')); // across the page boundary
    expect(Buffer.from(addon.memPeek(m.address + 4093n, 8)).toString()).toBe('kfd-svm!');
    expect(Buffer.from(m.view.subarray(4093, 4101)).toString()).toBe('kfd-svm!');
    const back = new Uint8Array(10);
    addon.memRead(m.handle, 4092, back);
    expect([...back]).toEqual([4092 & 0xff, ...Buffer.from('kfd-svm!'), 4101 & 0xff]);
    addon.memFree(m.handle);
  });

  it('the view\'s byte offset is honoured and every view kind counts bytes, not elements', () => {
    const m = filled(1);
    addon.memWrite(m.handle, 100, new Uint16Array([0x0201, 0x0403])); // little-endian: 01 02 03 04
    addon.memWrite(m.handle, 104, new Float64Array([0])); // 8 zero bytes
    expect([...m.view.subarray(99, 113)]).toEqual([99, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 112]);
    const whole = new Uint8Array(12).fill(0xee);
    addon.memRead(m.handle, 100, new DataView(whole.buffer, 3, 6));
    expect([...whole]).toEqual([0xee, 0xee, 0xee, 1, 2, 3, 4, 0, 0, 0xee, 0xee, 0xee]);
    const u32 = new Uint32Array(new ArrayBuffer(16), 8, 1);
    addon.memRead(m.handle, 100, u32);
    expect(u32[0]).toBe(0x04030201);
    expect([...new Uint32Array(u32.buffer)]).toEqual([0, 0, 0x04030201, 0]);
    addon.memFree(m.handle);
  });

  it('a view of the mapping itself may overlap the span: the copy is a memmove', () => {
    const m = filled(1);
    addon.memRead(m.handle, 0, m.view.subarray(2, 10)); // forward overlap: bytes 0..7 to 2..9
    expect([...m.view.subarray(0, 12)]).toEqual([0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 10, 11]);
    addon.memWrite(m.handle, 20, m.view.subarray(22, 30)); // backward overlap: bytes 22..29 to 20..27
    expect([...m.view.subarray(20, 30)]).toEqual([22, 23, 24, 25, 26, 27, 28, 29, 28, 29]);
    addon.memFree(m.handle);
  });

  it('the span must fit the mapping: the last byte and an empty copy at the end are fine; past it, RangeError and nothing copied', () => {
    const m = filled(1);
    const one = new Uint8Array(1);
    addon.memRead(m.handle, PAGE - 1, one);
    expect(one[0]).toBe((PAGE - 1) & 0xff);
    addon.memRead(m.handle, PAGE, new Uint8Array(0));
    addon.memWrite(m.handle, PAGE, new Uint8Array(0));
    const target = new Uint8Array(8).fill(0xee);
    // One byte past; far past; an offset near 2^53 where offset + length would wrap a careless u64 sum
    // (2^53 - 1 + 2^64 - 2^53 + 1): the check is written as length > size - offset, which cannot wrap.
    for (const offset of [PAGE - 7, PAGE + 1, 2 ** 32, 2 ** 53 - 1]) {
      expect(() => addon.memRead(m.handle, offset, target)).toThrow(RangeError);
      expect(() => addon.memWrite(m.handle, offset, new Uint8Array(8).fill(0x55))).toThrow(`outside the mapping of ${PAGE} bytes`);
    }
    expect(() => addon.memRead(m.handle, 0, new Uint8Array(PAGE + 1))).toThrow(RangeError);
    expect([...target]).toEqual(Array(8).fill(0xee));
    expect([...addon.memPeek(m.address + BigInt(PAGE - 7), 7)]).toEqual([...m.view.subarray(PAGE - 7)]);
    expect(m.view.every((x, i) => x === (i & 0xff))).toBe(true);
    addon.memFree(m.handle);
  });

  it('offsets are Numbers that are integers in [0, 2^53 - 1]', () => {
    const m = filled(1);
    const t = new Uint8Array(1);
    for (const bad of ['0', 0n, null, undefined]) expect(() => addon.memRead(m.handle, bad as never, t)).toThrow(TypeError);
    for (const bad of [-1, 0.5, NaN, Infinity, 2 ** 53]) expect(() => addon.memWrite(m.handle, bad, t)).toThrow(RangeError);
    addon.memFree(m.handle);
  });

  it('a freed mapping is EFAULT (syscall memcpy): through the backend a KernelError, from the addon its fields', () => {
    const mem = b.alloc(PAGE);
    mem.free();
    let err: unknown;
    try {
      mem.read(0, new Uint8Array(4));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect(err).toMatchObject({ code: 'EFAULT', errno: 14, syscall: 'memcpy' });
    expect(() => mem.write(0, new Uint8Array(4))).toThrow(KernelError);
    const m = addon.memAlloc(PAGE);
    addon.memFree(m.handle);
    expect(() => addon.memWrite(m.handle, 0, new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: 'EFAULT', errno: 14, syscall: 'memcpy', kfdSvmSyscallError: true }),
    );
    // A zero-length copy of a freed mapping is refused too: the mapping is gone whatever the length.
    expect(() => addon.memRead(m.handle, 0, new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'EFAULT' }));
  });

  it('anything but a mapping handle is a TypeError, checked before anything is copied', () => {
    const dev = addon.kfdOpen('/dev/null');
    const t = new Uint8Array(4).fill(7);
    for (const h of [dev, {}, null, 1, new Uint8Array(4)]) {
      expect(() => addon.memRead(h as never, 0, t)).toThrow(TypeError);
      expect(() => addon.memWrite(h as never, 0, t)).toThrow(/expected a mapping handle/);
    }
    expect([...t]).toEqual([7, 7, 7, 7]);
    addon.kfdClose(dev);
  });

  it('targets and sources are TypedArrays, Buffers or DataViews; one over a detached buffer is a TypeError', () => {
    const m = filled(1);
    const d = detachedView();
    expect(() => addon.memRead(m.handle, 0, d)).toThrow(/target is a view of a detached ArrayBuffer/);
    expect(() => addon.memWrite(m.handle, 0, d)).toThrow(/source is a view of a detached ArrayBuffer/);
    for (const bad of [new ArrayBuffer(4), [1, 2], 'abcd', new Proxy(new Uint8Array(4), {})]) {
      expect(() => addon.memWrite(m.handle, 0, bad as never)).toThrow(/must be a TypedArray, Buffer or DataView/);
    }
    // The mapping's own view, once freed, is detached: a read into it is refused, not a copy to freed memory.
    const other = filled(1);
    addon.memFree(other.handle);
    expect(() => addon.memRead(m.handle, 0, other.view)).toThrow(TypeError);
    // Empty views over live buffers are fine (zero bytes copied).
    addon.memRead(m.handle, 0, new Uint8Array(0));
    addon.memRead(m.handle, 0, new Uint8Array(new ArrayBuffer(0)));
    addon.memFree(m.handle);
  });

  it('through the backend: MappedMemory.read/write copy, and agree with the zero-copy buffer', () => {
    const mem = b.alloc(2 * PAGE);
    mem.write(PAGE - 2, new Uint8Array([9, 8, 7, 6]));
    expect([...new Uint8Array(mem.buffer, PAGE - 2, 4)]).toEqual([9, 8, 7, 6]);
    new Uint8Array(mem.buffer)[0] = 42;
    const t = new Uint8Array(1);
    mem.read(0, t);
    expect(t[0]).toBe(42);
    expect(() => mem.read(2 * PAGE, new Uint8Array(1))).toThrow(RangeError);
    mem.free();
  });

  it('through the backend: a mapping larger than the runtime\'s largest ArrayBuffer has none, and copies reach all of it', () => {
    // Above buffer.constants.MAX_LENGTH (4 GiB on Node 20) Node makes no ArrayBuffer: the backend asks the
    // addon for none, buffer is a RangeError naming read()/write(), and the bytes past 4 GiB are reachable.
    const size = bufferConstants.MAX_LENGTH + 2 * PAGE;
    const mem = b.alloc(size);
    try {
      expect(mem.size).toBe(size);
      expect(() => mem.buffer).toThrow(/largest ArrayBuffer.*read\(\) and write\(\)/);
      mem.write(size - 3, new Uint8Array([5, 6, 7]));
      const t = new Uint8Array(3);
      mem.read(size - 3, t);
      expect([...t]).toEqual([5, 6, 7]);
      expect(mem.freed).toBe(false);
    } finally {
      mem.free();
    }
    expect(isMapped(mem.address, size)).toBe(false);
  });
});

describe('a binary from before memRead/memWrite (a stale build/Release)', () => {
  it('read/write say the addon is out of date; through the API that is EBACKEND, not a raw TypeError', () => {
    const stale = { ...addon, memRead: undefined, memWrite: undefined } as unknown as NativeAddon;
    const mem = new KfdMappedMemory(stale, addon.memAlloc(PAGE));
    expect(() => mem.read(0, new Uint8Array(1))).toThrow(/no memRead: it was built from older sources.*npm run build:native/);
    expect(() => mem.write(0, new Uint8Array(1))).toThrow(/no memWrite/);
    const host = hostStub();
    const buf = new SvmBuffer(host, mem);
    expect(() => buf.read(0, 1)).toThrow(expect.objectContaining({ name: 'SvmError', code: 'EBACKEND' }));
    expect(buf.bytes.length).toBe(PAGE); // the zero-copy view is unaffected
    mem.free();
  });
});
