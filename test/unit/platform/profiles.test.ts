import { describe, expect, it } from 'vitest';
import { getProfile, iomemText, PROFILE_IDS, topologyTree } from '../../../src/platform/profiles.js';
import { parseTopology, type TopologyPresent } from '../../../src/platform/topology.js';
import { matchCoherentVram, parseIomem } from '../../../src/platform/iomem.js';
import { kfdGpuId } from '../../../src/platform/asic.js';
import { iomemFixture, topologyFixture } from './fixtures.js';

function topo(id: string): TopologyPresent {
  const t = parseTopology(topologyTree(getProfile(id)));
  if (!t.present) throw new Error('expected a topology');
  return t;
}

describe('getProfile', () => {
  it('knows the seven profiles and names them when asked for another', () => {
    expect([...PROFILE_IDS]).toEqual(['mi250x', 'mi210', 'mi300a', 'mi300x', 'mi300x-dpx', 'mi300x-cpx-nps4', 'cpu-only']);
    expect(() => getProfile('mi100')).toThrow(
      /unknown machine profile "mi100".*mi250x, mi210, mi300a, mi300x, mi300x-dpx, mi300x-cpx-nps4, cpu-only/);
  });

  it('returns a fresh copy each time', () => {
    const a = getProfile('mi250x');
    a.gpus.pop();
    expect(getProfile('mi250x').gpus).toHaveLength(8);
  });

  it('gives every GPU a distinct non-zero 16-bit gpu_id, as kfd_generate_gpu_id does', () => {
    for (const id of PROFILE_IDS) {
      const ids = getProfile(id).gpus.map((g) => g.gpuId);
      expect(new Set(ids).size).toBe(ids.length);
      for (const g of ids) expect(g > 0 && g <= 0xffff).toBe(true);
    }
  });

  it('steps a colliding gpu_id hash up by one, and never uses 0', () => {
    const inputs = { devfn: 0, subsystemVendor: 0x1002, subsystemDevice: 0x0c34, domain: 0, deviceId: 0x740f, bus: 3,
      localMemSize: 64n << 30n, firstXcc: 0, numXcc: 1 };
    const id = kfdGpuId(inputs);
    expect(kfdGpuId(inputs, new Set([id]))).toBe((id + 1) & 0xffff || 1);
  });
});

describe('topologyTree', () => {
  it('shares one read-only tree per profile content, and writes a new one when the profile differs', () => {
    const a = topologyTree(getProfile('mi210'));
    expect(topologyTree(getProfile('mi210'))).toBe(a);
    const changed = getProfile('mi210');
    changed.gpus[0]!.drmRenderMinor = 200;
    const b = topologyTree(changed);
    expect(b).not.toBe(a);
    expect(b.readFile('nodes/1/properties')).toMatch(/\ndrm_render_minor 200\n/);
    expect(a.readFile('nodes/1/properties')).toMatch(/\ndrm_render_minor 128\n/);
  });
});

describe('profile topology, parsed back', () => {
  it('mi250x: one CPU node and 8 gfx90a GCDs, coherent (xGMI to the CPU), SVM, per-process XNACK', () => {
    const t = topo('mi250x');
    const p = getProfile('mi250x');
    expect(t.nodes.map((n) => n.kind)).toEqual(['cpu', ...Array(8).fill('gpu')]);
    expect(t.gpus.map((g) => g.gpuId)).toEqual(p.gpus.map((g) => g.gpuId));
    expect(t.gpus.map((g) => g.pciAddress)).toEqual(
      ['c1', 'c6', 'c9', 'ce', 'd1', 'd6', 'd9', 'de'].map((b) => `0000:${b}:00.0`));
    for (const g of t.gpus) {
      expect(g.gfxTarget).toBe('gfx90a');
      expect(g.name).toBe('aldebaran');
      expect(g.simdCount).toBe(440);
      expect(g.localMemoryBytes).toBe(64n << 30n);
      expect(g.properties.local_mem_size).toBe(0); // node_show writes 0; the size is in mem_banks
      expect(g.capability?.svmApiSupported).toBe(true);
      expect(g.capability?.coherentHostAccess).toBe(true);
      expect(g.xnackPerProcess).toBe(true);
      expect(g.ioLinks[0]).toMatchObject({ typeName: 'xgmi', nodeTo: 0, weight: 15 });
      // the CPU link, then one xGMI link to each of the 7 other GCDs of the hive
      expect(g.ioLinks).toHaveLength(8);
      expect(g.caches).toHaveLength(223); // 110 TCP + 56 SQC I$ + 56 SQC K$ + 1 L2
    }
    expect(t.gpus.map((g) => g.drmRenderMinor)).toEqual([128, 129, 130, 131, 132, 133, 134, 135]);
    // "Include the CPU peer in GPU hive if connected over xGMI": the CPU node carries the hive id.
    expect(t.nodes[0]!.hiveId).toBe(p.gpus[0]!.hiveId);
    expect(t.nodes[0]!.cpuCoresCount).toBe(128);
    expect(t.nodes[0]!.ioLinks.map((l) => l.nodeTo)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(t.warnings).toEqual([]);
  });

  it('mi210: PCIe GPUs: non-coherent CPU→GPU links, PCIe peer-to-peer links between the GPUs', () => {
    const t = topo('mi210');
    expect(t.gpus).toHaveLength(2);
    const [a, b] = t.gpus;
    expect(a!.capability?.coherentHostAccess).toBe(false);
    expect(a!.capability?.svmApiSupported).toBe(true);
    expect(a!.ioLinks).toHaveLength(1);
    expect(a!.ioLinks[0]).toMatchObject({ typeName: 'pcie', weight: 20, maxBandwidth: 32000 });
    expect(t.nodes[0]!.ioLinks.every((l) => l.flagsDecoded.nonCoherent)).toBe(true);
    expect(a!.p2pLinks).toEqual([expect.objectContaining({ nodeFrom: a!.id, nodeTo: b!.id, weight: 40 })]);
    expect(b!.p2pLinks).toEqual([expect.objectContaining({ nodeFrom: b!.id, nodeTo: a!.id, weight: 40 })]);
    expect(a!.hiveId).toBe(0n);
  });

  it('mi300a: four CPU nodes and four gfx942 APU GPUs with 6 XCCs, CPU↔GPU over intra-socket xGMI', () => {
    const t = topo('mi300a');
    expect(t.nodes.map((n) => n.kind)).toEqual(['cpu', 'cpu', 'cpu', 'cpu', 'gpu', 'gpu', 'gpu', 'gpu']);
    t.gpus.forEach((g, i) => {
      expect(g.gfxTarget).toBe('gfx942');
      expect(g.name).toBe('ip discovery');
      expect(g.numXcc).toBe(6);
      expect(g.capability?.coherentHostAccess).toBe(true);
      expect(g.ioLinks[0]).toMatchObject({ typeName: 'xgmi', nodeTo: i, weight: 13 });
      // indirect links to the three other sockets' CPU nodes (kfd_create_indirect_link_prop)
      expect(g.p2pLinks.map((l) => l.nodeTo).sort()).toEqual([0, 1, 2, 3].filter((c) => c !== i));
      // GC 9.4.3: every device takes 8 render nodes at probe (amdgpu_xcp_dev_alloc), APUs too.
      expect(g.drmRenderMinor).toBe(128 + 8 * i);
    });
  });

  it('mi300x: two sockets, eight gfx942 GPUs of 192 GiB on PCIe, one xGMI hive with recommended SDMA engines', () => {
    const t = topo('mi300x');
    expect(t.gpus).toHaveLength(8);
    expect(t.gpus.map((g) => g.ioLinks[0]!.nodeTo)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    const g0 = t.gpus[0]!;
    // SPX/NPS1: the one XCP's memory is the one range, real_vram_size: 192 GiB less 16 MiB.
    expect(g0.localMemoryBytes).toBe((192n << 30n) - (16n << 20n));
    // GC 9.4.3 takes 8 render nodes per device at probe (amdgpu_xcp_dev_alloc), SPX included.
    expect(t.gpus.map((g) => g.drmRenderMinor)).toEqual([128, 136, 144, 152, 160, 168, 176, 184]);
    expect(g0.numXcc).toBe(8);
    expect(g0.capability?.coherentHostAccess).toBe(false);
    // rec_sdma_eng_map[0][1] = 14: the xGMI link from GPU 0 to GPU 1 recommends SDMA engine 14.
    const toGpu1 = g0.ioLinks.find((l) => l.nodeTo === t.gpus[1]!.id)!;
    expect(toGpu1.recommendedSdmaEngineIdMask).toBe(1 << 14);
    expect(g0.ioLinks[0]!.maxBandwidth).toBe(64000); // PCIe 5.0 x16
  });

  it('cpu-only: the exact CPU node the QEMU guest showed on 6.12', () => {
    const generated = topologyTree(getProfile('cpu-only'));
    const real = topologyFixture('qemu-6.12-cpu-only.json');
    for (const [path, text] of real.entries()) expect(generated.readFile(path), path).toBe(text);
    const t = topo('cpu-only');
    expect(t.nodes).toHaveLength(1);
    expect(t.gpus).toHaveLength(0);
    expect(t.platform).toEqual({ oemId: 'BOCHS ', oemTableId: 'BXPC    ', revision: 1 });
  });
});

describe('profile iomem, parsed back', () => {
  it('mi250x: one Soft Reserved range per GCD under hmem.N, matched to its GPU by size and order', () => {
    const p = getProfile('mi250x');
    const io = parseIomem(iomemText(p));
    expect(io.addressesHidden).toBe(false);
    expect(io.softReserved).toHaveLength(8);
    expect(io.devicePrivate).toHaveLength(0);
    expect(io.softReserved.map((s) => s.hmemDevice)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `hmem.${i}`));
    const t = topo('mi250x');
    const matches = matchCoherentVram(io, t.gpus.map((g) => ({ gpuId: g.gpuId, vramBytes: g.localMemoryBytes })));
    expect(matches.map((m) => [m.gpuId, m.range.bounds?.start])).toEqual(
      p.gpus.map((g) => [g.gpuId, g.spmRange!.start]));
    // the BARs of every GCD sit under their PCI address
    const barOwners = new Set<string>();
    const walk = (rs: typeof io.ranges): void => rs.forEach((r) => {
      if (r.kind === 'pci-device' && r.owner.pciAddress) barOwners.add(r.owner.pciAddress);
      walk(r.children);
    });
    walk(io.ranges);
    for (const g of t.gpus) expect(barOwners.has(g.pciAddress!)).toBe(true);
  });

  it('mi210 and mi300x: one device-private range per GPU, named by its PCI address, top-down from PHYSMEM_END', () => {
    for (const id of ['mi210', 'mi300x']) {
      const t = topo(id);
      const io = parseIomem(iomemText(getProfile(id)));
      expect(io.softReserved).toHaveLength(0);
      const byAddr = new Map(io.devicePrivate.map((d) => [d.pciAddress, d]));
      for (const g of t.gpus) {
        const d = byAddr.get(g.pciAddress);
        expect(d, `${id} ${g.pciAddress}`).toBeDefined();
        // ALIGN(real_vram_size, 2 MiB), then get_free_mem_region's ALIGN(size, 128 MiB).
        const section = 128n << 20n;
        expect(d!.bounds!.size).toBe(((g.localMemoryBytes + section - 1n) / section) * section);
      }
      const first = byAddr.get(t.gpus[0]!.pciAddress)!;
      expect(first.bounds!.end).toBe((1n << 46n) - 1n);
    }
  });

  it('mi300a: no VRAM ranges at all (one memory); the HBM is System RAM', () => {
    const io = parseIomem(iomemText(getProfile('mi300a')));
    expect(io.softReserved).toHaveLength(0);
    expect(io.devicePrivate).toHaveLength(0);
    expect(io.systemRamBytes).toBe(512n << 30n);
  });

  it('cpu-only: the QEMU q35/SeaBIOS listing of the reference, line for line', () => {
    expect(iomemText(getProfile('cpu-only'))).toBe(iomemFixture('qemu-6.1-seabios.txt'));
  });

  it('hideAddresses gives the all-zero view, which parses as hidden with no bounds', () => {
    for (const id of PROFILE_IDS) {
      const text = iomemText(getProfile(id), { hideAddresses: true });
      expect(text).not.toMatch(/[1-9a-f][0-9a-f]*-/);
      const io = parseIomem(text);
      expect(io.addressesHidden).toBe(true);
      expect(io.hint).toMatch(/CAP_SYS_ADMIN/);
      expect(io.systemRamBytes).toBeUndefined();
      for (const s of io.softReserved) expect(s.bounds).toBeUndefined();
      for (const d of io.devicePrivate) expect(d.bounds).toBeUndefined();
      // the names are still there: the same ranges are found, only without addresses
      const full = parseIomem(iomemText(getProfile(id)));
      expect(io.softReserved.length).toBe(full.softReserved.length);
      expect(io.devicePrivate.map((d) => d.owner)).toEqual(full.devicePrivate.map((d) => d.owner));
    }
  });
});
