/**
 * SVM memory: mmap'ed pages seen by JS as an external ArrayBuffer (no copy), unmapped by free() (which
 * detaches first) or by the finalizer once nothing references them.
 */
import { describe, expect, it } from 'vitest';
import { KernelError } from '../../src/backend/errors.js';
import { openKfdBackend } from '../../src/backend/kfd/index.js';
import { addon, gcUntil, isMapped } from './helpers.js';
import { mark, unmappedState, untilUnmapped } from './unmapped.mjs';

const PAGE = addon.pageSize;
const TWO_MIB = 2n << 20n;

describe('alloc', () => {
  const b = openKfdBackend({ devicePath: '/dev/null' });

  it('is page aligned, rounds the size up to whole pages, and starts zeroed', () => {
    const m = b.alloc(PAGE + 1);
    expect(m.size).toBe(2 * PAGE);
    expect(m.address % BigInt(PAGE)).toBe(0n);
    expect(m.buffer.byteLength).toBe(2 * PAGE);
    expect(new Uint8Array(m.buffer).every((x) => x === 0)).toBe(true);
    expect(isMapped(m.address, m.size)).toBe(true);
    m.free();
  });

  it('a JS write through the view is read back by the addon at the mapping address (no copy)', () => {
    const m = b.alloc(3 * PAGE);
    const view = new Uint32Array(m.buffer);
    view[0] = 0xdeadbeef;
    view[view.length - 1] = 0x01020304;
    const head = addon.memPeek(m.address, 4);
    const tail = addon.memPeek(m.address + BigInt(m.size - 4), 4);
    expect(Buffer.from(head).readUInt32LE(0)).toBe(0xdeadbeef);
    expect(Buffer.from(tail).readUInt32LE(0)).toBe(0x01020304);
    m.free();
  });

  it('align2M gives a 2 MiB-aligned start and unmaps the over-mapped head and tail', async () => {
    const ms = Array.from({ length: 4 }, () => b.alloc(3 * PAGE, { align2M: true }));
    for (const m of ms) {
      expect(m.address % TWO_MIB).toBe(0n);
      expect(m.size).toBe(3 * PAGE);
      expect(isMapped(m.address, m.size)).toBe(true);
    }
    for (const m of ms) m.free();
    // The page after the mapping was trimmed: reading it is EFAULT. Another thread may have mapped that
    // hole since, so a readable page is looked at again on a fresh mapping; an untrimmed tail stays readable.
    const after = await untilUnmapped(() => {
      const m = b.alloc(3 * PAGE, { align2M: true });
      const state = unmappedState(addon.memPeek, m.address + BigInt(m.size), PAGE, undefined);
      m.free();
      return state;
    });
    expect(after.at(-1)).toBe('unmapped');
  });

  it('free() detaches every view, unmaps, and is idempotent', async () => {
    const m = b.alloc(PAGE);
    const buf = m.buffer;
    const view = new Uint8Array(buf);
    const fingerprint = mark(view);
    m.free();
    // Unmapped: memPeek is EFAULT. A readable page whose bytes are not ours is another thread's new
    // mapping in the hole (see unmapped.mjs): then the check is repeated on a fresh mapping.
    const states = await untilUnmapped((i) => {
      if (i === 0) return unmappedState(addon.memPeek, m.address, m.size, fingerprint);
      const again = b.alloc(PAGE);
      const print = mark(new Uint8Array(again.buffer));
      again.free();
      return unmappedState(addon.memPeek, again.address, again.size, print);
    });
    expect(states.at(-1)).toBe('unmapped');
    expect(m.freed).toBe(true);
    expect(buf.byteLength).toBe(0);
    expect(view.length).toBe(0);
    expect(view[0]).toBeUndefined(); // a detached view reads nothing: JS cannot reach the unmapped page
    expect(() => m.buffer).toThrow(/freed/);
    expect(() => m.free()).not.toThrow();
  });

  it('size 0 reaches mmap, which answers EINVAL', () => {
    expect(() => b.alloc(0)).toThrow(expect.objectContaining({ name: 'KernelError', code: 'EINVAL', syscall: 'mmap' }));
  });

  it('a size the machine cannot map is mmap ENOMEM, not a crash', () => {
    let err: unknown;
    try {
      b.alloc(2 ** 52);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect(err).toMatchObject({ code: 'ENOMEM', syscall: 'mmap' });
  });

  it('unreachable memory is unmapped by the finalizer', async () => {
    // Collected: memPeek turns EFAULT. A hole another thread mapped again since holds other bytes than
    // ours (unmapped.mjs); then the check is repeated on a fresh mapping.
    const states = await untilUnmapped(async () => {
      let m: ReturnType<typeof b.alloc> | undefined = b.alloc(5 * PAGE, { align2M: true });
      const { address, size } = m;
      expect(isMapped(address, size)).toBe(true);
      const fingerprint = mark(new Uint8Array(m.buffer));
      m = undefined;
      let state = unmappedState(addon.memPeek, address, size, fingerprint);
      await gcUntil(() => (state = unmappedState(addon.memPeek, address, size, fingerprint)) !== 'ours');
      return state;
    });
    expect(states.at(-1)).toBe('unmapped');
  });

  it('the buffer alone keeps the memory mapped after the handle is collected', async () => {
    let m: ReturnType<typeof b.alloc> | undefined = b.alloc(6 * PAGE, { align2M: true });
    const buf = m.buffer;
    const { address, size } = m;
    m = undefined;
    await gcUntil(() => false, 5);
    expect(isMapped(address, size)).toBe(true);
    new Uint8Array(buf)[0] = 7;
    expect(addon.memPeek(address, 1)[0]).toBe(7);
  });
});

describe('memPeek', () => {
  it('reads at any address without faulting: unmapped and kernel addresses are EFAULT', () => {
    for (const a of [0n, 8n, 0xffff_ffff_ffff_f000n, 0x7fff_ffff_0000n]) {
      expect(() => addon.memPeek(a, 16)).toThrow(expect.objectContaining({ code: 'EFAULT', syscall: 'process_vm_readv' }));
    }
    expect(addon.memPeek(0n, 0).length).toBe(0);
  });
});
