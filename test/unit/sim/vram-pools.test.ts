/**
 * VRAM pools of a partitioned MI300X (CPX + NPS4: two XCPs per memory partition). svm_range_vram_node_new
 * places a node's BO in its memory partition (bp.xcp_id_plus1 → amdgpu_bo_placement_from_domain: fpfn/lpfn
 * of mem_partitions[xcp->mem_id]), and TTM evicts whatever lies there: the two XCPs of a partition fill one
 * pool and evict each other's BOs, and no other node's. Per node, only the reserve check of one range
 * (amdgpu_amdkfd_reserve_mem_limit on the XCP's share) applies.
 */
import { describe, expect, it } from 'vitest';
import { SmiEvent, smiEventMask, SvmAttrType as T } from '../../../src/backend/abi.js';
import { createSimBackend } from '../../../src/backend/sim/index.js';
import { getProfile } from '../../../src/platform/profiles.js';
import { lines } from './fixtures.js';

const GiB = 1n << 30n;

function cpxNps4() {
  const profile = getProfile('mi300x-cpx-nps4');
  const b = createSimBackend({ profile });
  for (const g of profile.gpus) b.acquireVm(g.gpuId, g.drmRenderMinor);
  const byPartition = (device: number, memId: number): number[] =>
    profile.gpus.filter((g) => g.partition?.device === device && g.partition.memId === memId).map((g) => g.gpuId);
  const [x0, x1] = byPartition(0, 0);
  const [other] = byPartition(0, 1);
  return { b, x0: x0!, x1: x1!, other: other! };
}

async function prefetch(b: ReturnType<typeof createSimBackend>, gpuId: number, bytes: bigint): Promise<void> {
  const m = b.alloc(Number(bytes), { align2M: true });
  await b.svmSetAttr(m.address, bytes, [{ type: T.PREFETCH_LOC, value: gpuId }]);
}

describe('VRAM pools of memory partitions (mi300x-cpx-nps4)', () => {
  it('one XCP fills its memory partition beyond its own share without evicting', async () => {
    const { b, x0 } = cpxNps4();
    const share = b.vram(x0).capacity;
    expect(share).toBeLessThan(24n * GiB);
    await prefetch(b, x0, 12n * GiB);
    await prefetch(b, x0, 12n * GiB);
    await prefetch(b, x0, 12n * GiB);
    expect(b.counters().evictions).toBe(0);
    expect(b.vram(x0).used).toBe(36n * GiB);
    expect(b.vram(x0).used).toBeGreaterThan(share);
  });

  it('the other XCP of the partition evicts its sibling\'s least recently used BOs, and no other node is touched', async () => {
    const { b, x0, x1, other } = cpxNps4();
    await prefetch(b, other, 20n * GiB);
    await prefetch(b, x0, 24n * GiB);
    await prefetch(b, x0, 12n * GiB);
    expect(b.counters().evictions).toBe(0);
    const ev = b.openSmiEvents(x0, smiEventMask(SmiEvent.MIGRATE_END));
    await prefetch(b, x1, 12n * GiB);
    const evictions = b.counters().evictions;
    expect(evictions).toBeGreaterThan(0);
    expect(b.vram(x1).used).toBe(12n * GiB);
    // x0 gave back whole 512 MiB BOs (one per kernel range), the first it prefetched.
    expect(b.vram(x0).used).toBe(36n * GiB - BigInt(evictions) * (GiB / 2n));
    expect(b.vram(other).used).toBe(20n * GiB);
    const got = await lines(ev);
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((l) => / 3$/.test(l))).toBe(true); // KFD_MIGRATE_TRIGGER_TTM_EVICTION, on x0
  });
});
