/**
 * Scenarios of the driver's own suites that make sense without a GPU, run against the sim:
 * - tools/testing/selftests/mm/hmm-tests.c (in the 6.12 source): migrate, migrate_fault, migrate_multiple,
 *   migrate_release, migrate_mixed, for device-private and device-coherent memory;
 * - kfdtest's KFDSVMRangeTest (ROCT-Thunk-Interface). That suite is not in the reference material, so only
 *   the case names are borrowed; the bodies are re-derived from what each case checks, minus the shaders.
 */
import { describe, expect, it } from 'vitest';
import { SvmAttrType as T, SvmFlag as F, SvmLocation as L } from '../../../src/backend/abi.js';
import { A, B, MB2, PAGE, simWithVms, twoGpus } from './fixtures.js';

const fill = (buf: ArrayBuffer): void => {
  const v = new Int32Array(buf);
  for (let i = 0; i < v.length; i++) v[i] = i;
};
const intact = (buf: ArrayBuffer): boolean => new Int32Array(buf).every((x, i) => x === i);

describe.each([
  ['device-private', A],
  ['device-coherent', B],
] as const)('hmm-tests on %s memory', (kind, dev) => {
  const npages = 16;
  const size = BigInt(npages) * PAGE;
  const setup = () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(npages * 4096);
    fill(m.buffer);
    return { b, m };
  };
  const toDev = (b: ReturnType<typeof setup>['b'], a: bigint, n: bigint) => b.svmSetAttr(a, n, [{ type: T.PREFETCH_LOC, value: dev }]);

  it('migrate: every page moves to the device and reads back intact', async () => {
    const { b, m } = setup();
    await toDev(b, m.address, size);
    expect(b.counters().bytesMoved.toDevice).toBe(npages * 4096);
    expect(b.snapshot(m.address, size)).toEqual([{ start: m.address, size, location: kind, gpuId: dev }]);
    expect(intact(m.buffer)).toBe(true);
  });

  it('migrate_fault: reading half faults it back (private) or reads in place (coherent); migrating again moves only that half', async () => {
    const { b, m } = setup();
    await b.svmSetAttr(m.address, size, [{ type: T.GRANULARITY, value: 0 }]);
    await toDev(b, m.address, size);
    await b.cpuAccess(m.address, size / 2n, 'read');
    expect(intact(m.buffer)).toBe(true);
    const back = kind === 'device-private' ? (npages / 2) * 4096 : 0;
    expect(b.counters().bytesMoved.toSystem).toBe(back);
    await toDev(b, m.address, size);
    expect(b.counters().bytesMoved.toDevice).toBe(npages * 4096 + back);
    expect(b.snapshot(m.address, size)).toHaveLength(1);
  });

  it('migrate_multiple: repeated migrate and fault cycles keep the data', async () => {
    const { b, m } = setup();
    for (let i = 0; i < 10; i++) {
      await toDev(b, m.address, size);
      await b.cpuAccess(m.address, size, 'write');
    }
    expect(intact(m.buffer)).toBe(true);
    const perCycle = kind === 'device-private' ? 10 : 1;
    expect(b.counters().migrations).toBe(perCycle * (kind === 'device-private' ? 2 : 1));
  });

  it('migrate_release: unmapping migrated memory frees the device pages without migrating them back', async () => {
    const { b, m } = setup();
    await toDev(b, m.address, size);
    expect(b.vram(dev).used).toBe(size);
    m.free();
    expect(b.vram(dev).used).toBe(0n);
    expect(b.counters().bytesMoved.toSystem).toBe(0);
    expect(b.ranges()).toEqual([]);
  });

  it('migrate_mixed: a span with a hole in its mapping is refused; the mapped pieces still migrate', async () => {
    const { b } = setup();
    const hi = b.alloc(4096);
    const hole = b.alloc(4096);
    const lo = b.alloc(4096);
    hole.free();
    await expect(toDev(b, lo.address, 3n * PAGE)).rejects.toMatchObject({ code: 'EFAULT' });
    await toDev(b, lo.address, PAGE);
    await toDev(b, hi.address, PAGE);
    expect(b.snapshot(lo.address, 3n * PAGE).map((r) => r.location)).toEqual([kind, kind]);
  });
});

describe('kfdtest KFDSVMRangeTest-like cases', () => {
  it('SetGetAttributesTest: every attribute set is read back', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(4 * 1024 * 1024, { align2M: true });
    const n = BigInt(m.size);
    await b.svmSetAttr(m.address, n, [
      { type: T.PREFERRED_LOC, value: A },
      { type: T.PREFETCH_LOC, value: L.SYSMEM },
      { type: T.ACCESS, value: A },
      { type: T.ACCESS_IN_PLACE, value: B },
      { type: T.SET_FLAGS, value: F.HOST_ACCESS | F.GPU_EXEC },
      { type: T.CLR_FLAGS, value: F.COHERENT },
      { type: T.GRANULARITY, value: 0xff },
    ]);
    expect(b.svmGetAttr(m.address, n, [
      { type: T.PREFERRED_LOC, value: 0 },
      { type: T.PREFETCH_LOC, value: 0 },
      { type: T.ACCESS, value: A },
      { type: T.ACCESS, value: B },
      { type: T.SET_FLAGS, value: 0 },
      { type: T.CLR_FLAGS, value: 0 },
      { type: T.GRANULARITY, value: 0 },
    ])).toEqual([
      { type: T.PREFERRED_LOC, value: A },
      { type: T.PREFETCH_LOC, value: 0 },
      { type: T.ACCESS, value: A },
      { type: T.ACCESS_IN_PLACE, value: B },
      { type: T.SET_FLAGS, value: F.HOST_ACCESS | F.GPU_EXEC },
      { type: T.CLR_FLAGS, value: ~(F.HOST_ACCESS | F.GPU_EXEC) >>> 0 },
      { type: T.GRANULARITY, value: 0x3f },
    ]);
  });

  it('InvalidRangeTest: unregistered, unaligned and zero-sized spans are refused', async () => {
    const b = simWithVms(twoGpus());
    const attrs = [{ type: T.GRANULARITY, value: 9 }];
    await expect(b.svmSetAttr(0x10000n, PAGE, attrs)).rejects.toMatchObject({ code: 'EFAULT' });
    await expect(b.svmSetAttr(0x10001n, PAGE, attrs)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(b.svmSetAttr(0x10000n, 0n, attrs)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('SplitRangeTest: attributes set on parts of a registered range split it; unmapping a part keeps the rest', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(16 * 4096);
    const n = BigInt(m.size);
    await b.svmSetAttr(m.address, n, [{ type: T.PREFERRED_LOC, value: L.SYSMEM }]);
    await b.svmSetAttr(m.address + 4n * PAGE, 4n * PAGE, [{ type: T.PREFERRED_LOC, value: A }]);
    await b.svmSetAttr(m.address + 12n * PAGE, 4n * PAGE, [{ type: T.PREFERRED_LOC, value: B }]);
    expect(b.ranges().map((r) => [Number((r.start - m.address) / PAGE), Number(r.size / PAGE), r.preferredLoc])).toEqual([
      [0, 4, 0], [4, 4, A], [8, 4, 0], [12, 4, B],
    ]);
    expect(b.svmGetAttr(m.address, n, [{ type: T.PREFERRED_LOC, value: 0 }])[0]!.value).toBe(L.UNDEFINED);
  });

  it('PartialUnmapSysMemTest: freeing one of two mappings under one range leaves the other registered', async () => {
    const b = simWithVms(twoGpus());
    const top = b.alloc(8 * 4096);
    const bottom = b.alloc(8 * 4096);
    await b.svmSetAttr(bottom.address, 16n * PAGE, [{ type: T.ACCESS, value: A }]);
    top.free();
    expect(b.ranges().map((r) => [r.start, r.size, r.access])).toEqual([[bottom.address, 8n * PAGE, [A]]]);
    expect(await b.gpuAccess(A, bottom.address, 8n * PAGE, 'read')).toEqual({ vmFault: false, faults: 0 });
    expect((await b.gpuAccess(A, top.address, PAGE, 'read')).vmFault).toBe(true);
  });

  it('XNACKModeTest: the mode can be read and toggled while no queue exists', () => {
    const b = simWithVms(twoGpus());
    const initial = b.getXnack();
    b.setXnack(!initial);
    expect(b.getXnack()).toBe(!initial);
    const q = b.createQueue(A);
    expect(() => b.setXnack(initial)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    q.destroy();
    b.setXnack(initial);
    expect(b.getXnack()).toBe(initial);
  });

  it('MigrateGranularityTest: a CPU touch brings back exactly 2^granularity pages', async () => {
    for (const g of [0, 3, 6, 9]) {
      const b = simWithVms(twoGpus({ xnackDefault: true }));
      const m = b.alloc(4 * 1024 * 1024, { align2M: true });
      const n = BigInt(m.size);
      await b.svmSetAttr(m.address, n, [{ type: T.GRANULARITY, value: g }, { type: T.PREFETCH_LOC, value: A }]);
      await b.cpuAccess(m.address + MB2 + 5n * PAGE, 1n, 'read');
      expect(b.counters().bytesMoved.toSystem).toBe(4096 * 2 ** g);
    }
  });

  it('MigrateLargeBufTest: a buffer larger than VRAM prefetches what fits, evicting the oldest, data intact', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(96 * 1024 * 1024, { align2M: true });
    const marks = new Int32Array(m.buffer);
    for (let i = 0; i < marks.length; i += 1024) marks[i] = i; // one mark per page
    const n = BigInt(m.size);
    await b.svmSetAttr(m.address, n, [{ type: T.PREFETCH_LOC, value: A }]);
    expect(b.vram(A).used).toBe(b.vram(A).capacity);
    expect(b.counters().evictions).toBeGreaterThan(0);
    await b.cpuAccess(m.address, n, 'read');
    expect(b.vram(A).used).toBe(0n);
    for (let i = 0; i < marks.length; i += 1024) expect(marks[i]).toBe(i);
  });

  it('MigrateAccessInPlaceTest: a coherent GPU reads in place what another coherent GPU of its hive holds', async () => {
    const p = twoGpus({ xnackDefault: false });
    p.gpus = p.gpus.map((g) => ({ ...g, memoryKind: 'coherent', hiveId: 1n }));
    const b = simWithVms(p);
    const m = b.alloc(16 * 4096);
    const n = BigInt(m.size);
    await b.svmSetAttr(m.address, n, [
      { type: T.PREFETCH_LOC, value: A },
      { type: T.ACCESS, value: A },
      { type: T.ACCESS_IN_PLACE, value: B },
    ]);
    expect(b.snapshot(m.address, n)[0]!.gpuId).toBe(A);
    expect(await b.gpuAccess(B, m.address, n, 'read')).toEqual({ vmFault: false, faults: 0 });
    expect(b.counters().migrations).toBe(1);
  });
});
