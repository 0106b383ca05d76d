/** svm_range_apply_attrs, svm_range_get_attr and svm_range_add / svm_range_unmap_from_cpu on the range tree. */
import { describe, expect, it } from 'vitest';
import { SmiEvent, smiEventMask, SvmAttrType as T, SvmFlag as F, SvmLocation as L } from '../../../src/backend/abi.js';
import type { SvmAttribute } from '../../../src/backend/contract.js';
import { A, B, gpu, lines, machine, PAGE, simWithVms, twoGpus } from './fixtures.js';

const get = (b: ReturnType<typeof simWithVms>, s: bigint, n: bigint, attrs: SvmAttribute[]): number[] =>
  b.svmGetAttr(s, n, attrs).map((a) => a.value);
const accessOf = (b: ReturnType<typeof simWithVms>, s: bigint, n: bigint, gpuId: number): number =>
  b.svmGetAttr(s, n, [{ type: T.ACCESS, value: gpuId }])[0]!.type;

describe('SET applies the attributes in array order (svm_range_apply_attrs)', () => {
  it('the last word wins for access, flags and granularity', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(1 << 20);
    const p = PAGE;
    await b.svmSetAttr(m.address, p, [{ type: T.ACCESS, value: A }, { type: T.NO_ACCESS, value: A }]);
    expect(accessOf(b, m.address, p, A)).toBe(T.NO_ACCESS);
    await b.svmSetAttr(m.address, p, [{ type: T.NO_ACCESS, value: A }, { type: T.ACCESS_IN_PLACE, value: A }]);
    expect(accessOf(b, m.address, p, A)).toBe(T.ACCESS_IN_PLACE);
    // ACCESS clears in-place and ACCESS_IN_PLACE clears access: never both.
    await b.svmSetAttr(m.address, p, [{ type: T.ACCESS, value: A }]);
    expect(accessOf(b, m.address, p, A)).toBe(T.ACCESS);
    await b.svmSetAttr(m.address, p, [{ type: T.SET_FLAGS, value: F.GPU_RO }, { type: T.CLR_FLAGS, value: F.GPU_RO }]);
    expect(get(b, m.address, p, [{ type: T.SET_FLAGS, value: 0 }])).toEqual([F.HOST_ACCESS | F.COHERENT]);
    await b.svmSetAttr(m.address, p, [{ type: T.CLR_FLAGS, value: F.GPU_RO }, { type: T.SET_FLAGS, value: F.GPU_RO }]);
    expect(get(b, m.address, p, [{ type: T.SET_FLAGS, value: 0 }])).toEqual([F.HOST_ACCESS | F.COHERENT | F.GPU_RO]);
    await b.svmSetAttr(m.address, p, [{ type: T.GRANULARITY, value: 5 }, { type: T.GRANULARITY, value: 7 }]);
    expect(get(b, m.address, p, [{ type: T.GRANULARITY, value: 0 }])).toEqual([7]);
  });

  it('granularity is stored as min(value, 0x3f)', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(4096);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.GRANULARITY, value: 200 }]);
    expect(get(b, m.address, PAGE, [{ type: T.GRANULARITY, value: 0 }])).toEqual([0x3f]);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.GRANULARITY, value: 0xffffffff }]);
    expect(get(b, m.address, PAGE, [{ type: T.GRANULARITY, value: 0 }])).toEqual([0x3f]);
  });

  it('all eight flags (6.12: up to EXT_COHERENT) set and clear independently', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(4096);
    const all = Object.values(F).reduce((x, y) => x | y, 0);
    expect(all).toBe(0xff);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.SET_FLAGS, value: all }]);
    expect(get(b, m.address, PAGE, [{ type: T.SET_FLAGS, value: 0 }, { type: T.CLR_FLAGS, value: 0 }])).toEqual([0xff, 0xffffff00]);
    for (const f of Object.values(F)) {
      await b.svmSetAttr(m.address, PAGE, [{ type: T.CLR_FLAGS, value: f }]);
      const [set] = get(b, m.address, PAGE, [{ type: T.SET_FLAGS, value: 0 }]);
      expect(set! & f).toBe(0);
      await b.svmSetAttr(m.address, PAGE, [{ type: T.SET_FLAGS, value: f }]);
      expect(get(b, m.address, PAGE, [{ type: T.SET_FLAGS, value: 0 }])).toEqual([0xff]);
    }
  });
});

describe('GET over a span (svm_range_get_attr)', () => {
  const setup = async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(3 * 4096);
    const [r1, r2, r3] = [m.address, m.address + PAGE, m.address + 2n * PAGE];
    await b.svmSetAttr(r1, PAGE, [
      { type: T.PREFERRED_LOC, value: A },
      { type: T.PREFETCH_LOC, value: L.SYSMEM },
      { type: T.SET_FLAGS, value: F.GPU_RO },
      { type: T.GRANULARITY, value: 4 },
      { type: T.ACCESS, value: A },
      { type: T.ACCESS, value: B },
    ]);
    await b.svmSetAttr(r2, PAGE, [
      { type: T.PREFERRED_LOC, value: A },
      { type: T.PREFETCH_LOC, value: L.SYSMEM },
      { type: T.CLR_FLAGS, value: F.COHERENT },
      { type: T.GRANULARITY, value: 6 },
      { type: T.ACCESS, value: A },
      { type: T.ACCESS_IN_PLACE, value: B },
    ]);
    return { b, m, r1, r2, r3 };
  };

  it('equal locations answer the value; differing ones or an undefined one answer UNDEFINED', async () => {
    const { b, r1, r2 } = await setup();
    expect(get(b, r1, 2n * PAGE, [{ type: T.PREFERRED_LOC, value: 0 }, { type: T.PREFETCH_LOC, value: 0 }])).toEqual([A, 0]);
    await b.svmSetAttr(r2, PAGE, [{ type: T.PREFERRED_LOC, value: L.SYSMEM }]);
    expect(get(b, r1, 2n * PAGE, [{ type: T.PREFERRED_LOC, value: 0 }])).toEqual([L.UNDEFINED]);
    await b.svmSetAttr(r2, PAGE, [{ type: T.PREFERRED_LOC, value: L.UNDEFINED }]);
    expect(get(b, r1, 2n * PAGE, [{ type: T.PREFERRED_LOC, value: 0 }])).toEqual([L.UNDEFINED]);
    expect(get(b, r1, PAGE, [{ type: T.PREFERRED_LOC, value: 0 }])).toEqual([A]);
  });

  it('SET_FLAGS = flags on every range (AND); CLR_FLAGS = flags on none (~OR); smallest granularity', async () => {
    const { b, r1 } = await setup();
    const [set, clr, gran] = get(b, r1, 2n * PAGE, [
      { type: T.SET_FLAGS, value: 0 },
      { type: T.CLR_FLAGS, value: 0 },
      { type: T.GRANULARITY, value: 0 },
    ]);
    // r1: HOST|COHERENT|GPU_RO; r2: HOST.
    expect(set).toBe(F.HOST_ACCESS);
    expect(clr).toBe(~(F.HOST_ACCESS | F.COHERENT | F.GPU_RO) >>> 0);
    expect(gran).toBe(4);
  });

  it('access per gpu_id: the type is rewritten; ACCESS needs every range, then ACCESS_IN_PLACE, else NO_ACCESS', async () => {
    const { b, r1, r2 } = await setup();
    expect(b.svmGetAttr(r1, 2n * PAGE, [{ type: T.ACCESS, value: A }, { type: T.ACCESS, value: B }])).toEqual([
      { type: T.ACCESS, value: A },
      { type: T.NO_ACCESS, value: B }, // ACCESS on r1, IN_PLACE on r2: neither everywhere
    ]);
    expect(accessOf(b, r2, PAGE, B)).toBe(T.ACCESS_IN_PLACE);
    expect(accessOf(b, r1, PAGE, B)).toBe(T.ACCESS);
  });

  it('holes in the span do not count: only the ranges present answer', async () => {
    const { b, r1, r3 } = await setup();
    // r3 has no range. r2+r3 answers r2's attributes, not the defaults and not UNDEFINED.
    const r2 = r1 + PAGE;
    expect(get(b, r2, 2n * PAGE, [
      { type: T.PREFERRED_LOC, value: 0 },
      { type: T.SET_FLAGS, value: 0 },
      { type: T.GRANULARITY, value: 0 },
    ])).toEqual([A, F.HOST_ACCESS, 6]);
    expect(accessOf(b, r2, 2n * PAGE, A)).toBe(T.ACCESS);
    // r3 alone: defaults.
    expect(get(b, r3, PAGE, [{ type: T.PREFERRED_LOC, value: 0 }, { type: T.GRANULARITY, value: 0 }])).toEqual([L.UNDEFINED, 9]);
  });

  it('with no range, access is XNACK-dependent: every SVM GPU when on, none when off', () => {
    const p = machine([gpu({ gpuId: A, drmRenderMinor: 128 }), gpu({ gpuId: B, drmRenderMinor: 129, svmSupported: false })]);
    const b = simWithVms(p);
    const m = b.alloc(4096);
    b.setXnack(false);
    expect(accessOf(b, m.address, PAGE, A)).toBe(T.NO_ACCESS);
    b.setXnack(true);
    expect(accessOf(b, m.address, PAGE, A)).toBe(T.ACCESS);
    expect(accessOf(b, m.address, PAGE, B)).toBe(T.NO_ACCESS); // not in bitmap_supported
  });

  it('new ranges get access to every SVM GPU when XNACK is on (svm_range_new), none when off', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(2 * 4096);
    b.setXnack(true);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.GRANULARITY, value: 9 }]);
    expect(accessOf(b, m.address, PAGE, A)).toBe(T.ACCESS);
    b.setXnack(false);
    await b.svmSetAttr(m.address + PAGE, PAGE, [{ type: T.GRANULARITY, value: 9 }]);
    expect(accessOf(b, m.address + PAGE, PAGE, A)).toBe(T.NO_ACCESS);
    // The first range keeps the access it was created with.
    expect(accessOf(b, m.address, PAGE, A)).toBe(T.ACCESS);
  });
});

describe('ranges split on a partial SET and go away on unmap', () => {
  it('a SET in the middle of a range splits it in three; the outer pieces keep their attributes', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(4 * 4096);
    await b.svmSetAttr(m.address, 4n * PAGE, [{ type: T.GRANULARITY, value: 3 }]);
    expect(b.ranges()).toHaveLength(1);
    await b.svmSetAttr(m.address + PAGE, 2n * PAGE, [{ type: T.GRANULARITY, value: 5 }]);
    expect(b.ranges().map((r) => [r.start - m.address, r.size, r.granularity])).toEqual([
      [0n, PAGE, 3],
      [PAGE, 2n * PAGE, 5],
      [3n * PAGE, PAGE, 3],
    ]);
    // No merge afterwards, even when the attributes agree again (kfd_svm.c has no merge).
    await b.svmSetAttr(m.address, 4n * PAGE, [{ type: T.GRANULARITY, value: 3 }]);
    expect(b.ranges()).toHaveLength(3);
  });

  it('a SET that changes nothing on a range mapped to a GPU leaves it whole (svm_range_add: nothing to do)', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(4 * 4096);
    // XNACK off: ACCESS maps the range to GPU A.
    await b.svmSetAttr(m.address, 4n * PAGE, [{ type: T.ACCESS, value: A }]);
    expect(b.ranges()[0]!.mappedToGpu).toBe(true);
    await b.svmSetAttr(m.address + PAGE, PAGE, [{ type: T.ACCESS, value: A }]);
    expect(b.ranges()).toHaveLength(1);
    // Not mapped: the same no-op SET splits.
    const n = b.alloc(4 * 4096);
    await b.svmSetAttr(n.address, 4n * PAGE, [{ type: T.GRANULARITY, value: 9 }]);
    await b.svmSetAttr(n.address + PAGE, PAGE, [{ type: T.GRANULARITY, value: 9 }]);
    expect(b.ranges().filter((r) => r.start >= n.address && r.start < n.address + 4n * PAGE)).toHaveLength(3);
  });

  it('new ranges are cut at max_svm_range_pages multiples (64 MiB of VRAM → 512 pages)', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(9 * 1024 * 1024, { align2M: true });
    await b.svmSetAttr(m.address + PAGE, 8n * 1024n * 1024n, []);
    const r = b.ranges();
    expect(r.map((x) => x.size / PAGE)).toEqual([511n, 512n, 512n, 512n, 1n]);
    for (const x of r.slice(1)) expect(x.start % (2n * 1024n * 1024n)).toBe(0n);
  });

  it('free removes the ranges over it; a range across two mappings keeps the other part', async () => {
    const b = simWithVms(twoGpus());
    const hi = b.alloc(2 * 4096);
    const lo = b.alloc(2 * 4096);
    expect(lo.address + 2n * PAGE).toBe(hi.address);
    await b.svmSetAttr(lo.address, 4n * PAGE, [{ type: T.PREFERRED_LOC, value: A }]);
    expect(b.ranges()).toHaveLength(1);
    lo.free();
    const left = b.ranges();
    expect(left.map((r) => [r.start, r.size, r.preferredLoc])).toEqual([[hi.address, 2n * PAGE, A]]);
    hi.free();
    expect(b.ranges()).toEqual([]);
    lo.free(); // idempotent
  });

  it('freeing memory mapped to a GPU unmaps it: UNMAP_FROM_GPU with trigger UNMAP_FROM_CPU', async () => {
    const b = simWithVms(twoGpus(), { pid: 77 });
    const m = b.alloc(4 * 4096);
    await b.svmSetAttr(m.address, 4n * PAGE, [{ type: T.ACCESS, value: A }]);
    const ev = b.openSmiEvents(A, smiEventMask(SmiEvent.UNMAP_FROM_GPU));
    const page = (m.address >> 12n).toString(16);
    m.free();
    const got = await lines(ev);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(new RegExp(`^b \\d+ -77 @${page}\\(4\\) ${A.toString(16)} 2$`));
  });
});
