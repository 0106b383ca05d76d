/**
 * SVM on the KFD nodes of partitioned MI300X devices: each node's VRAM is its XCP's share
 * (amdgpu_amdkfd_xcp_memory_size), migrations target one node, and svm_nodes_in_same_hive holds between
 * the nodes of one adev whatever their xGMI hive.
 */
import { describe, expect, it } from 'vitest';
import { SvmAttrType as T } from '../../../src/backend/abi.js';
import { createSimBackend, type SimBackend } from '../../../src/backend/sim/index.js';
import { buildGpus, hmmPageStructBytes, maxSvmRangePages, sameHive } from '../../../src/backend/sim/devices.js';
import { deviceXcps } from '../../../src/platform/partitions.js';
import { getProfile } from '../../../src/platform/profiles.js';
import type { MachineProfile } from '../../../src/platform/profile-types.js';
import { gpu, machine, MB2 } from './fixtures.js';

const GiB = 1024n ** 3n;
const MiB = 1024n ** 2n;

function open(profile: string | MachineProfile): SimBackend {
  const b = createSimBackend({ profile });
  for (const g of b.profile.gpus) b.acquireVm(g.gpuId, g.drmRenderMinor);
  return b;
}

/** A caller-built device of `deviceBytes` VRAM in CPX + NPS1: 8 nodes, gpu_ids 0x100 + xcp. */
function smallCpx(deviceBytes: number): MachineProfile {
  const gpus = deviceXcps(0, 'CPX', 'NPS1', 8, deviceBytes).map((x, i) =>
    gpu({ gpuId: 0x100 + i, drmRenderMinor: 128 + i, pci: { domain: 0, bus: 0x05, device: 0, function: 0 },
      vramBytes: x.vramBytes, numXcc: 1, partition: x.partition }));
  return machine(gpus, { xnackDefault: true });
}

describe('node VRAM on mi300x-cpx-nps4', () => {
  const b = open('mi300x-cpx-nps4');
  const ids = b.profile.gpus.map((g) => g.gpuId);

  it('AVAILABLE_MEMORY per node: the XCP share less ESTIMATE_PT_SIZE of RAM + each device\'s VRAM once, 2 MiB aligned', () => {
    // total = 768 GiB + 2 × (192 GiB − 16 MiB); reserve = total >> 14 = 75495424 bytes (72 MiB − 2 KiB).
    const dev = [...Array(6).fill(24504n * MiB), 24496n * MiB, 24496n * MiB];
    expect(ids.map((id) => b.availableMemory(id))).toEqual([...dev, ...dev]);
    expect(ids.map((id) => b.vram(id).capacity)).toEqual([...dev, ...dev]);
  });

  it('KFD reserves struct-page memory for each device\'s one pgmap, not per node', () => {
    // SVM_HMM_PAGE_STRUCT_SIZE(ALIGN(real_vram_size, 2 MiB)) for 2 devices: 64 bytes per 4 KiB page.
    expect(b.systemMemory().used).toBe(2n * ((192n * GiB - 16n * MiB) / 4096n) * 64n);
  });

  it('ranges are cut at svm_range_set_max_pages of a node (24 GiB → 512 MiB), not of the device', async () => {
    const m = b.alloc(2 * 1024 ** 3, { align2M: true });
    await b.svmSetAttr(m.address, 2n * GiB, [{ type: T.GRANULARITY, value: 9 }]);
    expect(b.ranges().filter((r) => r.start >= m.address && r.start < m.address + 2n * GiB).map((r) => r.size))
      .toEqual(Array(4).fill(512n * MiB));
    m.free();
  });
});

describe('migration to one partition', () => {
  it('a prefetch lands in that node\'s VRAM only', async () => {
    const b = open('mi300x-cpx-nps4');
    const [n0, , , n3] = b.profile.gpus.map((g) => g.gpuId);
    const m = b.alloc(2 * 1024 * 1024, { align2M: true });
    await b.svmSetAttr(m.address, MB2, [{ type: T.PREFETCH_LOC, value: n3! }]);
    expect(b.snapshot(m.address, MB2)).toEqual([{ start: m.address, size: MB2, location: 'device-private', gpuId: n3 }]);
    expect(b.vram(n3!).resident).toBe(MB2);
    expect(b.vram(n0!).resident).toBe(0n);
  });

  it('a node fills its memory partition, not just its own share: evictions start when the partition is full', async () => {
    // CPX + NPS4: two XCPs of 24 GiB share each 48 GiB memory partition (TTM places a node's SVM BOs in
    // mem_partitions[xcp->mem_id]); the per-node limit is only amdgpu_amdkfd_reserve_mem_limit on one range.
    const part = open('mi300x-cpx-nps4');
    const [n0, , n2] = part.profile.gpus.map((g) => g.gpuId);
    const other = part.alloc(2 * 1024 * 1024, { align2M: true });
    await part.svmSetAttr(other.address, MB2, [{ type: T.PREFETCH_LOC, value: n2! }]);
    const m = part.alloc(Number(25n * GiB), { align2M: true });
    await part.svmSetAttr(m.address, 25n * GiB, [{ type: T.PREFETCH_LOC, value: n0! }]);
    expect(part.counters().evictions).toBe(0);
    expect(part.vram(n0!).resident).toBe(25n * GiB);
    expect(part.vram(n0!).resident).toBeGreaterThan(part.vram(n0!).capacity);
    const more = part.alloc(Number(24n * GiB), { align2M: true });
    await part.svmSetAttr(more.address, 24n * GiB, [{ type: T.PREFETCH_LOC, value: n0! }]);
    expect(part.counters().evictions).toBeGreaterThan(0);
    expect(part.vram(n0!).resident).toBeLessThan(48n * GiB);
    expect(part.vram(n0!).resident).toBeGreaterThan(48n * GiB - 2n * 512n * MiB);
    // Node 2 is another memory partition: its range stays.
    expect(part.snapshot(other.address, MB2)[0]).toMatchObject({ location: 'device-private', gpuId: n2 });
  });

  it('a node whose share is under 2 MiB after the page-table reserve refuses the range; the device would not', async () => {
    // 80 MiB in CPX: 10 MiB per node, 8 MiB PT reserve → 2 MiB; 72 MiB: 9 MiB per node → 1 MiB → 0 (aligned).
    const b = open(smallCpx(72 * 1024 * 1024));
    expect(b.availableMemory(0x100)).toBe(0n);
    const m = b.alloc(2 * 1024 * 1024, { align2M: true });
    await b.svmSetAttr(m.address, MB2, [{ type: T.PREFETCH_LOC, value: 0x100 }]);
    expect(b.snapshot(m.address, MB2)[0]!.location).toBe('system');

    const fits = open(smallCpx(80 * 1024 * 1024));
    expect(fits.availableMemory(0x100)).toBe(MB2);
    const x = fits.alloc(2 * 1024 * 1024, { align2M: true });
    const y = fits.alloc(2 * 1024 * 1024, { align2M: true });
    await fits.svmSetAttr(x.address, MB2, [{ type: T.PREFETCH_LOC, value: 0x100 }]);
    await fits.svmSetAttr(y.address, MB2, [{ type: T.PREFETCH_LOC, value: 0x100 }]);
    // One 2 MiB range is the node's whole share, but the reserve check is per range (reserved for the
    // migration and released after it) and NPS1 puts every XCP's BOs in the one device-wide partition:
    // the second range fits too.
    expect(fits.counters().evictions).toBe(0);
    expect(fits.snapshot(x.address, MB2)[0]).toMatchObject({ location: 'device-private', gpuId: 0x100 });
    expect(fits.snapshot(y.address, MB2)[0]).toMatchObject({ location: 'device-private', gpuId: 0x100 });
  });
});

describe('svm_nodes_in_same_hive between partitions', () => {
  it('two nodes of one adev are one hive with no xGMI hive id; nodes of two adevs are not', () => {
    const gpus = buildGpus(getProfile('mi300x-cpx-nps4'));
    expect(gpus.every((g) => g.desc.hiveId === 0n)).toBe(true);
    expect(sameHive(gpus[0]!, gpus[7]!)).toBe(true);
    expect(sameHive(gpus[8]!, gpus[15]!)).toBe(true);
    expect(sameHive(gpus[0]!, gpus[8]!)).toBe(false);
  });

  it('XNACK off, a prefetch for a range another node of the same device accesses goes to VRAM', async () => {
    const b = open('mi300x-cpx-nps4');
    const ids = b.profile.gpus.map((g) => g.gpuId);
    const m = b.alloc(2 * 1024 * 1024, { align2M: true });
    await b.svmSetAttr(m.address, MB2, [{ type: T.ACCESS, value: ids[1]! }, { type: T.PREFETCH_LOC, value: ids[0]! }]);
    expect(b.snapshot(m.address, MB2)[0]).toMatchObject({ location: 'device-private', gpuId: ids[0] });
    // A node of the other device must reach the pages too: svm_range_best_prefetch_location keeps them in RAM.
    const x = b.alloc(2 * 1024 * 1024, { align2M: true });
    await b.svmSetAttr(x.address, MB2, [{ type: T.ACCESS, value: ids[8]! }, { type: T.PREFETCH_LOC, value: ids[0]! }]);
    expect(b.snapshot(x.address, MB2)[0]!.location).toBe('system');
  });
});

describe('buildGpus on partitions', () => {
  it('memory pools: XCPs of one memory partition share one, with the partition\'s pages (less the PT reserve)', () => {
    const gpus = buildGpus(getProfile('mi300x-cpx-nps4'));
    expect(gpus.map((g) => g.memPool)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
    // 48 GiB (the last: 48 GiB − 16 MiB) less 75495424 bytes, 2 MiB aligned.
    const mib = [...Array(6).fill(48 * 1024 - 72), 48 * 1024 - 88, 48 * 1024 - 88];
    expect(gpus.map((g) => (g.memPoolPages * 4096) / 1024 ** 2)).toEqual([...mib, ...mib]);
    expect(new Set(gpus.map((g) => g.device))).toEqual(new Set([0, 1]));
    // Unpartitioned, the pool is the GPU's VRAM on vramPages' terms.
    for (const g of buildGpus(getProfile('mi300x'))) expect(g.memPoolPages).toBe(g.vramPages);
  });

  it('the HMM struct pages are counted once per adev over its whole VRAM, not rounded per node', () => {
    // 1028 MiB in CPX: 128.5 MiB per node, which would round to 130 MiB eight times; the device's pgmap is
    // ALIGN(1028 MiB, 2 MiB) = 1028 MiB.
    const gpus = buildGpus(smallCpx(1028 * 1024 * 1024));
    expect(hmmPageStructBytes(gpus)).toBe(((1028 * 1024 * 1024) / 4096) * 64);
    expect(maxSvmRangePages(gpus)).toBe(1024); // 128.5 MiB >> 17 = 1028 → 1024
  });

  it('a partition whose VRAM is not amdgpu_amdkfd_xcp_memory_size is refused with the kernel figure', () => {
    const p = smallCpx(80 * 1024 * 1024);
    p.gpus[3]!.vramBytes = 80 * 1024 * 1024;
    expect(() => createSimBackend({ profile: p })).toThrow(/XCP 3 of a CPX\/NPS1 device: its VRAM is 10485760 bytes/);
  });
});
