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
import { deviceXcps } from '../../../src/platform/partitions.js';
import { getProfile } from '../../../src/platform/profiles.js';
import { gpu, lines, machine } from './fixtures.js';

const GiB = 1n << 30n;
const PAGE = 4096n;
const MiB = 1024 * 1024;

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

  it('a full pool evicts its least recently used BO whichever XCP made it (partition 1: pool and GPU indices differ)', async () => {
    const profile = getProfile('mi300x-cpx-nps4');
    const b = createSimBackend({ profile });
    for (const g of profile.gpus) b.acquireVm(g.gpuId, g.drmRenderMinor);
    const [a, c] = profile.gpus.filter((g) => g.partition?.device === 0 && g.partition.memId === 1).map((g) => g.gpuId);
    await prefetch(b, c!, 20n * GiB); // the pool's oldest BOs, made for the second XCP
    await prefetch(b, a!, 20n * GiB);
    expect(b.counters().evictions).toBe(0);
    await prefetch(b, a!, 8n * GiB); // 48 GiB: the pool (48 GiB less the PT reserve) is one 512 MiB BO short
    expect(b.counters().evictions).toBe(1);
    expect(b.vram(c!).used).toBe(20n * GiB - GiB / 2n);
    expect(b.vram(a!).used).toBe(28n * GiB);
  });

  it('a split piece prefetched to its sibling XCP lets go of its stale BO before room is made', async () => {
    // A device of 160 MiB in CPX + NPS4: eight XCPs, two per VRAM pool.
    const profile = machine(
      deviceXcps(0, 'CPX', 'NPS4', 8, 160 * MiB).map((x, i) =>
        gpu({ gpuId: 0x3000 + i, drmRenderMinor: 128 + i, pci: { domain: 0, bus: 0x05, device: 0, function: 0 }, vramBytes: x.vramBytes, numXcc: 1, partition: x.partition }),
      ),
      { xnackDefault: true },
    );
    const b = createSimBackend({ profile, pid: 5 });
    for (const g of profile.gpus) b.acquireVm(g.gpuId, g.drmRenderMinor);
    const [x0, x1] = [0x3000, 0x3001];
    b.alloc(4096, { align2M: true });
    const hi = b.alloc(16 * 4096);
    const mid = b.alloc(4096);
    const lo = b.alloc(16 * 4096);
    // One range of 33 pages on x0 (BO A), whose low 16 pages then fault back to RAM page by page.
    await b.svmSetAttr(lo.address, 33n * PAGE, [{ type: T.GRANULARITY, value: 0 }, { type: T.PREFETCH_LOC, value: x0 }]);
    await b.cpuAccess(lo.address, 16n * PAGE, 'read');
    mid.free(); // lo's piece [0..15] holds BO A without a page in it
    hi.free(); // and is the only range left on it
    // Fill the pool of x0 and x1 to less than 16 pages free.
    for (let i = 0; i < 17; i++) await prefetch(b, i % 2 ? x0 : x1, 2n * BigInt(MiB));
    await prefetch(b, x1, 470n * PAGE);
    const used = (): bigint => b.vram(x0).used + b.vram(x1).used;
    const before = used();
    expect(b.counters().evictions).toBe(0);
    await b.svmSetAttr(lo.address, 16n * PAGE, [{ type: T.PREFETCH_LOC, value: x1 }]);
    // BO A (33 pages) went first, so its 16-page successor fit without evicting anything.
    expect(b.counters().evictions).toBe(0);
    expect(used()).toBe(before - 33n * PAGE + 16n * PAGE);
    expect(b.snapshot(lo.address, 16n * PAGE)).toEqual([{ start: lo.address, size: 16n * PAGE, location: 'device-private', gpuId: x1 }]);
  });

  it('one range may take up to the XCP share less the page-table reserve, unaligned, though AVAILABLE_MEMORY aligns it to 0', async () => {
    // 60 MiB in CPX + NPS4: 9.5 MiB per XCP, 1.5 MiB of it past the 8 MiB page-table reserve:
    // amdgpu_amdkfd_get_available_memory aligns that down to 2 MiB (0), amdgpu_amdkfd_reserve_mem_limit
    // does not, and the memory partition (19 MiB) has room.
    const profile = machine(
      deviceXcps(0, 'CPX', 'NPS4', 8, 60 * MiB).map((x, i) =>
        gpu({ gpuId: 0x3000 + i, drmRenderMinor: 128 + i, pci: { domain: 0, bus: 0x05, device: 0, function: 0 }, vramBytes: x.vramBytes, numXcc: 1, partition: x.partition }),
      ),
      { xnackDefault: true },
    );
    const b = createSimBackend({ profile });
    for (const g of profile.gpus) b.acquireVm(g.gpuId, g.drmRenderMinor);
    expect(b.availableMemory(0x3000)).toBe(0n);
    const m = b.alloc(2 * MiB, { align2M: true });
    await b.svmSetAttr(m.address, BigInt(MiB), [{ type: T.PREFETCH_LOC, value: 0x3000 }]);
    expect(b.snapshot(m.address, BigInt(MiB))).toEqual([{ start: m.address, size: BigInt(MiB), location: 'device-private', gpuId: 0x3000 }]);
    // 1.5 MiB + a page is one page too many for the reserve.
    const n = b.alloc(2 * MiB, { align2M: true });
    await b.svmSetAttr(n.address, BigInt(1.5 * MiB) + PAGE, [{ type: T.PREFETCH_LOC, value: 0x3000 }]);
    expect(b.snapshot(n.address, PAGE)[0]!.location).toBe('system');
  });
});
