/** The model's address space: real-looking addresses, lazy memory, huge mappings that cost nothing. */
import { describe, expect, it } from 'vitest';
import { SvmAttrType as T } from '../../../src/backend/abi.js';
import { createSimBackend } from '../../../src/backend/sim/index.js';
import { A, MB2, PAGE, simWithVms, twoGpus } from './fixtures.js';

const GiB = 1024 ** 3;

describe('alloc / free', () => {
  it('hands out page-aligned user addresses top-down from 0x7f0000000000, sizes rounded up to pages', () => {
    const b = createSimBackend({ profile: twoGpus() });
    const m1 = b.alloc(100);
    const m2 = b.alloc(3 * 4096);
    expect(m1.size).toBe(4096);
    expect(m1.address).toBe(0x7f0000000000n - PAGE);
    expect(m2.address).toBe(m1.address - 3n * PAGE);
    const h = b.alloc(4096, { align2M: true });
    expect(h.address % MB2).toBe(0n);
    expect(h.address < m2.address).toBe(true);
  });

  it('zero length → EINVAL from mmap; non-integer sizes → RangeError', () => {
    const b = createSimBackend({ profile: twoGpus() });
    expect(() => b.alloc(0)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'mmap' }));
    expect(() => b.alloc(-1)).toThrow(RangeError);
    expect(() => b.alloc(1.5)).toThrow(RangeError);
  });

  it('the buffer is real memory, created on first use, kept across migrations; gone after free', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(8192);
    const v = new Uint8Array(m.buffer);
    v.set([1, 2, 3], 4095);
    expect(m.buffer).toBe(m.buffer);
    await b.svmSetAttr(m.address, 8192n, [{ type: T.PREFETCH_LOC, value: A }]);
    await b.cpuAccess(m.address, 8192n, 'read');
    expect([...new Uint8Array(m.buffer, 4095, 3)]).toEqual([1, 2, 3]);
    expect(m.freed).toBe(false);
    m.free();
    expect(m.freed).toBe(true);
    expect(() => m.buffer).toThrow(/freed/);
  });

  it('a 64 GiB mapping exists only in the model: registering and prefetching it is cheap, buffer throws RangeError', async () => {
    const b = createSimBackend({ profile: 'mi250x' });
    const g = b.profile.gpus[0]!;
    b.acquireVm(g.gpuId, g.drmRenderMinor);
    const heap0 = process.memoryUsage().heapUsed;
    const m = b.alloc(64 * GiB);
    expect(m.size).toBe(64 * GiB);
    const n = BigInt(m.size);
    await b.svmSetAttr(m.address, n, [{ type: T.PREFERRED_LOC, value: g.gpuId }]);
    // New ranges are cut at max_svm_range_pages: 2^18 pages (1 GiB) on 64 GiB parts, as the kernel cuts them.
    expect(b.ranges()).toHaveLength(64);
    expect(() => m.buffer).toThrow(RangeError);
    expect(b.snapshot(m.address, n)).toEqual([{ start: m.address, size: n, location: 'system' }]);
    await b.svmSetAttr(m.address, 8n * BigInt(GiB), [{ type: T.PREFETCH_LOC, value: g.gpuId }]);
    expect(b.snapshot(m.address, n).map((r) => [r.location, r.size])).toEqual([
      ['device-coherent', 8n * BigInt(GiB)],
      ['system', 56n * BigInt(GiB)],
    ]);
    // A few hundred KiB of model state; anything kept per page would be hundreds of MiB for 16M pages.
    // (The bound is loose because heapUsed also counts garbage not yet collected.)
    expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(32 * 1024 * 1024);
  });

  it('maxBackedBytes sets the limit', () => {
    const b = createSimBackend({ profile: twoGpus(), maxBackedBytes: 8192 });
    expect(b.alloc(8192).buffer.byteLength).toBe(8192);
    expect(() => b.alloc(12288).buffer).toThrow(RangeError);
  });
});

describe('cpuAccess', () => {
  it('on unmapped memory: EFAULT (the process would take SIGSEGV)', async () => {
    const b = simWithVms(twoGpus());
    await expect(b.cpuAccess(0x1000n, 4096n, 'read')).rejects.toMatchObject({ code: 'EFAULT' });
  });
});

describe('concurrency (svms->lock)', () => {
  it('overlapping svmSetAttr calls started together take effect in call order, data intact', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(16 * 4096);
    const bytes = new Uint8Array(m.buffer);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i / 4096 + 1;
    const n = BigInt(m.size);
    const p1 = b.svmSetAttr(m.address, n, [{ type: T.GRANULARITY, value: 1 }, { type: T.PREFETCH_LOC, value: A }]);
    const p2 = b.svmSetAttr(m.address + 4n * PAGE, 8n * PAGE, [{ type: T.GRANULARITY, value: 2 }, { type: T.PREFETCH_LOC, value: 0 }]);
    const p3 = b.svmSetAttr(m.address, n, [{ type: T.GRANULARITY, value: 3 }]);
    await Promise.all([p3, p2, p1]);
    expect(b.ranges().map((r) => r.granularity)).toEqual([3, 3, 3]);
    expect(b.snapshot(m.address, n).map((r) => [r.location, r.size / PAGE])).toEqual([
      ['device-private', 4n],
      ['system', 8n],
      ['device-private', 4n],
    ]);
    await b.cpuAccess(m.address, n, 'read');
    for (let i = 0; i < 16; i++) expect(bytes[i * 4096]).toBe(i + 1);
  });

  it('a failing call in the middle rejects alone; the calls around it still apply in order', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(4096);
    const p1 = b.svmSetAttr(m.address, PAGE, [{ type: T.GRANULARITY, value: 4 }]);
    const bad = b.svmSetAttr(m.address, PAGE, [{ type: 42, value: 0 }]);
    const p3 = b.svmSetAttr(m.address, PAGE, [{ type: T.GRANULARITY, value: 6 }]);
    await expect(bad).rejects.toMatchObject({ code: 'EINVAL' });
    await Promise.all([p1, p3]);
    expect(b.svmGetAttr(m.address, PAGE, [{ type: T.GRANULARITY, value: 0 }])[0]!.value).toBe(6);
  });
});
