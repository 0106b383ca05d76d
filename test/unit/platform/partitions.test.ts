/**
 * MI300X spatial partitions as the 6.12 driver exposes them: the mode arithmetic (aqua_vanjaram.c,
 * gmc_v9_0.c, amdgpu_amdkfd_xcp_memory_size) and the topology / iomem the partition profiles generate,
 * read back through the same parsers as the kfd backend.
 */
import { describe, expect, it } from 'vitest';
import { kfdGpuId } from '../../../src/platform/asic.js';
import { parseIomem } from '../../../src/platform/iomem.js';
import { deviceXcps, memPartitionSizes, xcpMemorySize } from '../../../src/platform/partitions.js';
import { getProfile, iomemText, topologyTree } from '../../../src/platform/profiles.js';
import { parseTopology, type TopologyNode, type TopologyPresent } from '../../../src/platform/topology.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** RCC_CONFIG_MEMSIZE of an MI300X: 196592 MiB. */
const REAL = 192 * GiB - 16 * MiB;

function topo(id: string): TopologyPresent {
  const t = parseTopology(topologyTree(getProfile(id)));
  if (!t.present) throw new Error('expected a topology');
  return t;
}
const prop = (n: TopologyNode, k: string): number | bigint => {
  const v = n.properties[k];
  if (v === undefined) throw new Error(`node ${n.id} has no ${k}`);
  return v;
};

describe('partition arithmetic', () => {
  it('NPS4 splits (real + 16 MiB) in four and the last range ends at real_vram_size (gmc_v9_0_init_sw_mem_ranges)', () => {
    expect(memPartitionSizes(REAL, 4)).toEqual([48 * GiB, 48 * GiB, 48 * GiB, 48 * GiB - 16 * MiB]);
    expect(memPartitionSizes(REAL, 1)).toEqual([REAL]);
  });

  it('CPX + NPS4: two XCPs per memory partition, each with half of it (amdgpu_amdkfd_xcp_memory_size)', () => {
    const xcps = deviceXcps(0, 'CPX', 'NPS4', 8, REAL);
    expect(xcps.map((x) => x.partition.memId)).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(xcps.map((x) => x.firstXcc)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(xcps.map((x) => x.vramBytes)).toEqual([...Array(6).fill(24 * GiB), 24 * GiB - 8 * MiB, 24 * GiB - 8 * MiB]);
  });

  it('CPX + NPS1: eight XCPs share the one range, each an eighth of it, page aligned', () => {
    const xcps = deviceXcps(0, 'CPX', 'NPS1', 8, REAL);
    expect(new Set(xcps.map((x) => x.vramBytes))).toEqual(new Set([25767706624]));
    // An uneven split is aligned down to a page.
    expect(xcpMemorySize({ memPartitionBytes: 8 * 4096 + 4096 * 3, xcpCount: 8, memPartitionCount: 1 })).toBe(4096);
  });

  it('DPX + NPS1: two XCPs of 4 XCCs with half the HBM each', () => {
    const xcps = deviceXcps(3, 'DPX', 'NPS1', 8, REAL);
    expect(xcps.map((x) => [x.firstXcc, x.numXcc, x.vramBytes, x.partition.device])).toEqual([
      [0, 4, 96 * GiB - 8 * MiB, 3],
      [4, 4, 96 * GiB - 8 * MiB, 3],
    ]);
  });

  it('refuses the modes __aqua_vanjaram_is_valid_mode refuses', () => {
    expect(() => deviceXcps(0, 'TPX', 'NPS1', 8, REAL)).toThrow(/TPX with NPS1 is not a mode the driver accepts/);
    expect(() => deviceXcps(0, 'SPX', 'NPS4', 8, REAL)).toThrow(RangeError);
    expect(() => deviceXcps(0, 'DPX', 'NPS4', 8, REAL)).toThrow(RangeError);
    expect(() => deviceXcps(0, 'QPX', 'NPS2', 8, REAL)).toThrow(RangeError);
    expect(deviceXcps(0, 'QPX', 'NPS4', 8, REAL).map((x) => x.vramBytes)).toEqual(
      [48 * GiB, 48 * GiB, 48 * GiB, 48 * GiB - 16 * MiB]);
  });
});

describe('mi300x-cpx-nps4 topology', () => {
  const t = topo('mi300x-cpx-nps4');
  const p = getProfile('mi300x-cpx-nps4');

  it('one KFD node per XCP: 1 CPU node and 2 × 8 GPU nodes, distinct gpu_ids and render nodes', () => {
    expect(t.nodes.map((n) => n.kind)).toEqual(['cpu', ...Array(16).fill('gpu')]);
    expect(new Set(t.gpus.map((g) => g.gpuId)).size).toBe(16);
    // amdgpu_xcp_dev_alloc: each device takes its render node plus 7 partition render nodes at probe.
    expect(t.gpus.map((g) => g.drmRenderMinor)).toEqual([...Array(16).keys()].map((i) => 128 + i));
    expect(t.gpus.map((g) => g.gpuId)).toEqual(p.gpus.map((g) => g.gpuId));
  });

  it('each node has its XCP share of its memory partition as its mem bank, and one XCC of 38 CUs', () => {
    const node = [...Array(6).fill(24n * 1024n ** 3n), 24n * 1024n ** 3n - 8n * 1024n ** 2n, 24n * 1024n ** 3n - 8n * 1024n ** 2n];
    expect(t.gpus.map((g) => g.localMemoryBytes)).toEqual([...node, ...node]);
    for (const g of t.gpus) {
      expect(g.simdCount).toBe(152); // simd_per_cu * (cu_info.number / num_nodes) = 4 * 304 / 8
      expect(g.numXcc).toBe(1);
      expect(prop(g, 'array_count')).toBe(4); // CRAT array_count (per XCC) * NUM_XCC(xcc_mask)
      expect(prop(g, 'num_sdma_engines')).toBe(2); // 16 SDMA instances / 8 nodes, two for PCIe
      expect(prop(g, 'num_sdma_xgmi_engines')).toBe(0);
      expect(g.gfxTarget).toBe('gfx942');
    }
  });

  it('gpu_id hashes the node: its memory size and its first XCC (kfd_generate_gpu_id)', () => {
    const taken = new Set<number>();
    const want = p.gpus.map((g, i) => {
      const id = kfdGpuId({ devfn: 0, subsystemVendor: 0x1002, subsystemDevice: 0x74a1, domain: 0, deviceId: 0x74a1,
        bus: i < 8 ? 0x05 : 0x26, localMemSize: BigInt(i % 8 < 6 ? 24 * GiB : 24 * GiB - 8 * MiB),
        firstXcc: i % 8, numXcc: 1 }, taken);
      taken.add(id);
      return id;
    });
    expect(t.gpus.map((g) => g.gpuId)).toEqual(want);
  });

  it('location_id is pci_dev_id | node_id; the parser gives every node of a device the device\'s PCI address', () => {
    expect(t.gpus.map((g) => g.locationId)).toEqual([
      ...[...Array(8).keys()].map((i) => 0x0500 | i), ...[...Array(8).keys()].map((i) => 0x2600 | i)]);
    expect(t.gpus.map((g) => g.pciAddress)).toEqual([...Array(8).fill('0000:05:00.0'), ...Array(8).fill('0000:26:00.0')]);
  });

  it('unique_id is the adev\'s; with no xGMI hive, hive_id is pci_dev_id (kgd2kfd_device_init)', () => {
    const dev0 = t.gpus.slice(0, 8);
    const dev1 = t.gpus.slice(8);
    expect(new Set(dev0.map((g) => g.uniqueId)).size).toBe(1);
    expect(new Set(dev1.map((g) => g.uniqueId)).size).toBe(1);
    expect(dev0[0]!.uniqueId).not.toBe(dev1[0]!.uniqueId);
    expect(dev0.map((g) => g.hiveId)).toEqual(Array(8).fill(0x500n));
    expect(dev1.map((g) => g.hiveId)).toEqual(Array(8).fill(0x2600n));
  });

  it('the nodes of a device are xGMI-linked one hop at HBM bandwidth; the other device is a PCIe peer', () => {
    const first = t.gpus[0]!;
    const xgmi = first.ioLinks.filter((l) => l.type === 11);
    expect(xgmi.map((l) => l.nodeTo)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    for (const l of xgmi) expect([l.weight, l.minBandwidth, l.maxBandwidth]).toEqual([13, 819200, 819200]);
    expect(first.ioLinks.filter((l) => l.type !== 11).map((l) => [l.type, l.nodeTo])).toEqual([[2, 0]]);
    expect(first.p2pLinks.map((l) => [l.type, l.nodeTo])).toEqual([...Array(8).keys()].map((i) => [2, 9 + i]));
  });

  it('/proc/iomem has one device-private range per physical device, its whole VRAM (one pgmap per adev)', () => {
    const io = parseIomem(iomemText(p));
    expect(io.devicePrivate.map((d) => [d.owner, d.bounds?.size])).toEqual([
      ['0000:26:00.0', 192n * 1024n ** 3n],
      ['0000:05:00.0', 192n * 1024n ** 3n],
    ]);
  });
});

describe('mi300x-dpx topology', () => {
  const t = topo('mi300x-dpx');

  it('8 devices × 2 nodes of 4 XCCs with half the HBM each; render nodes 8 apart per device', () => {
    expect(t.nodes.map((n) => n.kind)).toEqual(['cpu', 'cpu', ...Array(16).fill('gpu')]);
    expect(new Set(t.gpus.map((g) => g.gpuId)).size).toBe(16);
    expect(t.gpus.map((g) => g.drmRenderMinor)).toEqual([...Array(8).keys()].flatMap((d) => [128 + 8 * d, 129 + 8 * d]));
    for (const g of t.gpus) {
      expect(g.localMemoryBytes).toBe(96n * 1024n ** 3n - 8n * 1024n ** 2n);
      expect([g.simdCount, g.numXcc, prop(g, 'array_count')]).toEqual([608, 4, 16]);
      expect([prop(g, 'num_sdma_engines'), prop(g, 'num_sdma_xgmi_engines')]).toEqual([2, 6]);
    }
  });

  it('one hive: xGMI to every other node, 13 to the sibling, 41 and no bandwidth beyond (no TA info)', () => {
    expect(new Set(t.gpus.map((g) => g.hiveId))).toEqual(new Set([0x5c83e1d04a7f2b96n]));
    const n = t.gpus[2]!; // device 1, XCP 0: node 4
    const xgmi = n.ioLinks.filter((l) => l.type === 11);
    expect(xgmi).toHaveLength(15);
    for (const l of xgmi) {
      const sibling = l.nodeTo === 5;
      expect([l.weight, l.maxBandwidth]).toEqual(sibling ? [13, 819200] : [41, 0]);
      // kfd_set_recommended_sdma_engines without the 8-socket table (num_nodes > 1): the 6 xGMI engines.
      expect(l.recommendedSdmaEngineIdMask).toBe(0xfc);
    }
    // No PCIe peer links: every GPU node is in the hive.
    expect(n.p2pLinks.every((l) => l.nodeTo < 2)).toBe(true);
  });

  it('partitioning leaves /proc/iomem as it is: mi300x-dpx lists what the unpartitioned box lists', () => {
    expect(iomemText(getProfile('mi300x-dpx'))).toBe(iomemText(getProfile('mi300x')));
  });
});
