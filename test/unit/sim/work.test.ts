/**
 * Work per SVM call, counted (tree nodes visited and range-store hash buckets probed, treeWork.nodes), not
 * timed: a call on one range costs O(log n) in the number of ranges (a set or get of one whole range is one
 * hash lookup and the VMA check), a span of k ranges O(log n + k), and neither depends on a range's size.
 */
import { describe, expect, it } from 'vitest';
import { createSimBackend, type SimBackend } from '../../../src/backend/sim/index.js';
import { SvmAttrType, SvmFlag, SvmLocation } from '../../../src/backend/abi.js';
import { treeWork } from '../../../src/backend/sim/interval-map.js';

const PAGE = 4096;

interface Fixture {
  b: SimBackend;
  gpuId: number;
  starts: bigint[];
  size: bigint;
}

/**
 * `count` ranges of `pages` pages each on mi250x with its first GPU's VM acquired, each starting at a multiple
 * of its size and a range's size apart (so the kernel's cut at max_svm_range_pages makes one range of each).
 */
async function fixture(count: number, pages = 1): Promise<Fixture> {
  const b = createSimBackend({ profile: 'mi250x' });
  const g = b.profile.gpus[0]!;
  const gpuId = b.processApertures()[0]!.gpuId;
  b.acquireVm(gpuId, g.drmRenderMinor);
  const stride = 2 * pages * PAGE;
  const mem = b.alloc(stride * (count + 1));
  const size = BigInt(pages * PAGE);
  const base = ((mem.address + size - 1n) / size) * size;
  const starts: bigint[] = [];
  for (let i = 0; i < count; i++) {
    const s = base + BigInt(i * stride);
    starts.push(s);
    await b.svmSetAttr(s, size, [{ type: SvmAttrType.SET_FLAGS, value: SvmFlag.HOST_ACCESS }]);
  }
  return { b, gpuId, starts, size };
}

/** Nodes visited by one call of each kind on the range in the middle (after one warm call of each). */
async function work(f: Fixture): Promise<{ get: number; set: number; prefetch: number }> {
  const s = f.starts[f.starts.length >> 1]!;
  const count = async (fn: () => unknown): Promise<number> => {
    const n0 = treeWork.nodes;
    await fn();
    return treeWork.nodes - n0;
  };
  const get = await count(() => f.b.svmGetAttr(s, f.size, [{ type: SvmAttrType.PREFERRED_LOC, value: 0 }]));
  const set = await count(() => f.b.svmSetAttr(s, f.size, [{ type: SvmAttrType.PREFERRED_LOC, value: f.gpuId }]));
  const toGpu = await count(() => f.b.svmSetAttr(s, f.size, [{ type: SvmAttrType.PREFETCH_LOC, value: f.gpuId }]));
  const toSys = await count(() => f.b.svmSetAttr(s, f.size, [{ type: SvmAttrType.PREFETCH_LOC, value: SvmLocation.SYSMEM }]));
  return { get, set, prefetch: Math.max(toGpu, toSys) };
}

describe('work per SVM call (tree nodes visited)', () => {
  it('grows like log n: 2^16 ranges cost at most twice what 2^10 do, and far below n', async () => {
    const small = await work(await fixture(1 << 10));
    const big = await work(await fixture(1 << 16));
    for (const op of ['get', 'set', 'prefetch'] as const) {
      expect(small[op]).toBeGreaterThan(0);
      // log2(2^16) / log2(2^10) = 1.6: a logarithmic walk stays within 2x; a walk over the ranges would not.
      expect(big[op]).toBeLessThanOrEqual(2 * small[op]);
      expect(big[op]).toBeLessThan(16 * 16); // a few descents of a tree of height O(log2 n = 16)
    }
  });

  it('a span of k ranges costs O(log n + k), not k descents', async () => {
    const f = await fixture(1 << 12);
    const k = 512;
    const first = f.starts[1000]!;
    const span = f.starts[1000 + k - 1]! + f.size - first;
    const q = [{ type: SvmAttrType.PREFERRED_LOC, value: 0 }];
    let n0 = treeWork.nodes;
    f.b.svmGetAttr(first, f.size, q);
    const one = treeWork.nodes - n0;
    n0 = treeWork.nodes;
    expect(f.b.svmGetAttr(first, span, q)).toEqual([{ type: SvmAttrType.PREFERRED_LOC, value: SvmLocation.UNDEFINED }]);
    const many = treeWork.nodes - n0;
    // One descent, then the leaves in order: far fewer nodes than the k ranges themselves.
    expect(many - one).toBeLessThan(k / 4);
  });

  it('does not depend on the size of the range: 1 GiB costs what 4 KiB does', async () => {
    const small = await work(await fixture(64, 1));
    // 2^18 pages is max_svm_range_pages on mi250x: one kernel range.
    const f = await fixture(64, 1 << 18);
    expect(f.b.ranges()).toHaveLength(64);
    const big = await work(f);
    expect(big).toEqual(small);
  });
});
