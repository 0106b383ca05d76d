/**
 * Writes the KFD sysfs topology a MachineProfile would produce on Linux 6.12, file for file, following
 * the driver: kfd_crat.c (virtual CRAT for CPUs and GPUs: compute units, memory, direct io links),
 * kfd_topology.c (node_show / mem_show / iolink_show / kfd_cache_show formats, gpu_id hash, capability
 * bits, indirect p2p links, link flags and recommended SDMA engines) and kfd_queue.c (CWSR sizes).
 */
import type { TreeReader } from '../backend/contract.js';
import type { CpuDescription, GpuDescription, MachineProfile } from './profile-types.js';
import { asicInfo, cwsrSizes, gcIpVersion, type AsicInfo } from './asic.js';
import { MapTreeReader } from './tree-reader.js';

/** kfd_sysfs.h capability bits used by the generator. */
const CAP = {
  WATCH_POINTS_SUPPORTED: 0x80,
  WATCH_POINTS_TOTALBITS_SHIFT: 8,
  DOORBELL_TYPE_SHIFT: 12,
  TRAP_DEBUG_SUPPORT: 0x8000,
  TRAP_DEBUG_WAVE_LAUNCH_TRAP_OVERRIDE_SUPPORTED: 0x10000,
  TRAP_DEBUG_WAVE_LAUNCH_MODE_SUPPORTED: 0x20000,
  TRAP_DEBUG_PRECISE_MEMORY_OPERATIONS_SUPPORTED: 0x40000,
  MEM_EDCSUPPORTED: 0x100000,
  RASEVENTNOTIFY: 0x200000,
  ASIC_REVISION_SHIFT: 22,
  ASIC_REVISION_MASK: 0x03c00000,
  SRAM_EDCSUPPORTED: 0x04000000,
  SVMAPI_SUPPORTED: 0x08000000,
  FLAGS_COHERENTHOSTACCESS: 0x10000000,
  TRAP_DEBUG_FIRMWARE_SUPPORTED: 0x20000000,
} as const;

const IOLINK_TYPE_HYPERTRANSPORT = 1;
const IOLINK_TYPE_PCIEXPRESS = 2;
const IOLINK_TYPE_XGMI = 11;
const IOLINK_FLAG_ENABLED = 1;
const IOLINK_FLAG_NON_COHERENT = 2;
/** kfd_crat.c */
const KFD_CRAT_INTRA_SOCKET_WEIGHT = 13;
const KFD_CRAT_XGMI_WEIGHT = 15;
/** kfd_crat.c gpu_processor_id_low: the first simd_id_base; each GPU takes array_count * cu_per_sh ids. */
const GPU_PROCESSOR_ID_LOW = 0x80001000;
/** kfd_topology.c rec_sdma_eng_map (8-socket MI300X hives). */
const REC_SDMA_ENG_MAP = [
  [-1, 14, 12, 2, 4, 8, 10, 6],
  [14, -1, 2, 10, 8, 4, 6, 12],
  [10, 2, -1, 12, 14, 6, 4, 8],
  [2, 12, 10, -1, 6, 14, 8, 4],
  [4, 8, 14, 6, -1, 10, 12, 2],
  [8, 4, 6, 14, 12, -1, 2, 10],
  [10, 6, 4, 8, 12, 2, -1, 14],
  [6, 12, 8, 4, 2, 10, 14, -1],
];
/** SLIT distance between two sockets, as node_distance() reports on AMD 2P and 4P servers. */
const REMOTE_NODE_DISTANCE = 32;

export interface IoLinkRecord {
  type: number;
  versionMajor: number;
  versionMinor: number;
  nodeFrom: number;
  nodeTo: number;
  weight: number;
  minLatency: number;
  maxLatency: number;
  minBandwidth: number;
  maxBandwidth: number;
  recommendedTransferSize: number;
  recommendedSdmaEngineIdMask: number;
  flags: number;
}

interface CacheRecord {
  processorIdLow: number;
  level: number;
  size: number;
  cacheLineSize: number;
  cacheLinesPerTag: number;
  association: number;
  latency: number;
  type: number;
  siblingMap: number[];
}

interface MemBankRecord {
  heapType: number;
  sizeInBytes: bigint;
  flags: number;
  width: number;
  memClkMax: number;
}

interface NodeRecord {
  gpuId: number;
  name: string;
  props: [string, number | bigint][];
  memBanks: MemBankRecord[];
  caches: CacheRecord[];
  ioLinks: IoLinkRecord[];
  p2pLinks: IoLinkRecord[];
  gpu?: GpuDescription;
  cpu?: CpuDescription;
  hiveId: bigint;
}

/** The text of one io_link/p2p_link `properties` file (iolink_show). */
export function formatIoLink(l: IoLinkRecord): string {
  return [
    `type ${l.type}`,
    `version_major ${l.versionMajor}`,
    `version_minor ${l.versionMinor}`,
    `node_from ${l.nodeFrom}`,
    `node_to ${l.nodeTo}`,
    `weight ${l.weight}`,
    `min_latency ${l.minLatency}`,
    `max_latency ${l.maxLatency}`,
    `min_bandwidth ${l.minBandwidth}`,
    `max_bandwidth ${l.maxBandwidth}`,
    `recommended_transfer_size ${l.recommendedTransferSize}`,
    `recommended_sdma_engine_id_mask ${l.recommendedSdmaEngineIdMask}`,
    `flags ${l.flags}`,
  ].join('\n') + '\n';
}

function formatMemBank(m: MemBankRecord): string {
  return `heap_type ${m.heapType}\nsize_in_bytes ${m.sizeInBytes}\nflags ${m.flags}\nwidth ${m.width}\n` +
    `mem_clk_max ${m.memClkMax}\n`;
}

/** kfd_cache_show: eight `key value` lines, then `sibling_map` as one digit per bit, comma separated. */
function formatCache(c: CacheRecord): string {
  const bits: string[] = [];
  for (const byte of c.siblingMap) for (let j = 0; j < 8; j++) bits.push(String((byte >> j) & 1));
  return `processor_id_low ${c.processorIdLow}\nlevel ${c.level}\nsize ${c.size}\n` +
    `cache_line_size ${c.cacheLineSize}\ncache_lines_per_tag ${c.cacheLinesPerTag}\n` +
    `association ${c.association}\nlatency ${c.latency}\ntype ${c.type}\nsibling_map ${bits.join(',')}\n`;
}

/** The CPU node's memory as zone managed pages: a little less than installed (struct pages, firmware). */
export function managedBytes(cpu: CpuDescription): bigint {
  if (cpu.managedBytes !== undefined) return BigInt(cpu.managedBytes);
  const total = BigInt(cpu.memoryBytes);
  const est = total - total / 64n - 96n * 1024n * 1024n;
  return est > 0n ? (est / 4096n) * 4096n : 0n;
}

/** An ACPI OEM id string as the u64 the kernel copies with memcpy (little endian, space padded). */
export function oemIdValue(id: string, length: number): bigint {
  let v = 0n;
  for (let i = length - 1; i >= 0; i--) v = (v << 8n) | BigInt(i < id.length ? id.charCodeAt(i) & 0xff : 0x20);
  return v;
}

/** (bus << 8) | devfn: pci_dev_id(), what location_id holds. */
export function pciDevId(gpu: GpuDescription): number {
  return ((gpu.pci.bus & 0xff) << 8) | ((gpu.pci.device & 0x1f) << 3) | (gpu.pci.function & 7);
}

/** kfd->num_nodes > 1: the device is split into several KFD nodes (one per XCP). */
function multiNode(gpu: GpuDescription): boolean {
  return (gpu.partition?.xcpCount ?? 1) > 1;
}

/**
 * kfd->hive_id, which the node's hive_id shows and the CRAT xGMI links key on (kfd_device.c:
 * kgd2kfd_device_init): the xGMI hive id, or for a GC 9.4.3 device split into several nodes outside any
 * hive, pci_dev_id ("the KFD abstracts all partitions within a socket as xGMI connected").
 */
function kfdHiveId(gpu: GpuDescription): bigint {
  if (gpu.hiveId !== 0n) return gpu.hiveId;
  if (multiNode(gpu) && gcIpVersion(gpu.gfxTargetVersion)?.[2] === 3) return BigInt(pciDevId(gpu));
  return 0n;
}

/**
 * kfd_device.c: kfd_get_num_sdma_engines / kfd_get_num_xgmi_sdma_engines: the device's SDMA instances are
 * shared out among its nodes; two per node serve PCIe, the rest xGMI.
 */
function sdmaEngines(gpu: GpuDescription, a: AsicInfo): { pcie: number; xgmi: number } {
  if (!multiNode(gpu)) return { pcie: a.numSdmaEngines, xgmi: a.numSdmaXgmiEngines };
  const perNode = Math.floor((a.numSdmaEngines + a.numSdmaXgmiEngines) / gpu.partition!.xcpCount);
  const pcie = a.numSdmaXgmiEngines > 0 ? Math.min(perNode, 2) : perNode;
  return { pcie, xgmi: perNode - pcie };
}

function activeCuBitmaps(gpu: GpuDescription, a: AsicInfo): number[][][] {
  // cu_info->bitmap[xcc][se][sh]: spread the active CUs evenly, lowest bits first (harvested CUs high).
  const shCount = gpu.numXcc * a.shaderEngines * a.shPerSe;
  const active = Math.floor(gpu.simdCount / a.simdPerCu);
  const out: number[][][] = [];
  let n = 0;
  for (let x = 0; x < gpu.numXcc; x++) {
    const se: number[][] = [];
    for (let s = 0; s < a.shaderEngines; s++) {
      const sh: number[] = [];
      for (let h = 0; h < a.shPerSe; h++) {
        const cus = Math.min(a.maxCuPerSh, Math.floor(active / shCount) + (n < active % shCount ? 1 : 0));
        sh.push(cus >= 31 ? 0x7fffffff : (1 << cus) - 1);
        n++;
      }
      se.push(sh);
    }
    out.push(se);
  }
  return out;
}

function ffs(v: number): number {
  if (v === 0) return 0;
  let i = 1;
  while (((v >>> (i - 1)) & 1) === 0) i++;
  return i;
}

/** kfd_fill_cache_non_crat_info with fill_in_l1_pcache / fill_in_l2_l3_pcache. */
function gpuCaches(gpu: GpuDescription, a: AsicInfo, simdIdBase: number): CacheRecord[] {
  const bitmap = activeCuBitmaps(gpu, a);
  const caches: CacheRecord[] = [];
  const bytes4 = (m: number): number[] => [m & 0xff, (m >>> 8) & 0xff, (m >>> 16) & 0xff, (m >>> 24) & 0xff];
  for (const ci of a.caches) {
    const sharedMask = ci.numCuShared >= 31 ? 0x7fffffff : (1 << ci.numCuShared) - 1;
    const base = { level: ci.level, size: ci.sizeKb, cacheLineSize: ci.lineSize, cacheLinesPerTag: 0,
      association: 0, latency: 0, type: ci.type };
    let cuProcessorId = simdIdBase;
    if (ci.level === 1) {
      for (const se of bitmap) for (const sh of se) for (const cuBitmap of sh) {
        for (let k = 0; k < a.maxCuPerSh; k += ci.numCuShared) {
          const mask = (cuBitmap >>> k) & sharedMask;
          const first = ffs(mask);
          if (first) {
            caches.push({ ...base, processorIdLow: cuProcessorId + first - 1, siblingMap: bytes4(mask >>> (first - 1)) });
          }
          cuProcessorId += k + ci.numCuShared <= a.maxCuPerSh ? ci.numCuShared : a.maxCuPerSh - k;
        }
      }
    } else {
      let mask = (bitmap[0]?.[0]?.[0] ?? 0) & sharedMask;
      const first = ffs(mask);
      if (!first) continue;
      mask >>>= first - 1;
      const sibling: number[] = [];
      const flat = bitmap.flatMap((se) => se.flat());
      for (let i = 0; i < flat.length; i++) {
        sibling.push(...bytes4(mask));
        mask = (flat[i + 1] ?? 0) & sharedMask;
      }
      caches.push({ ...base, processorIdLow: cuProcessorId + first - 1, siblingMap: sibling });
    }
  }
  return caches;
}

function link(type: number, from: number, to: number, weight: number, minBw: number, maxBw: number): IoLinkRecord {
  return { type, versionMajor: 0, versionMinor: 0, nodeFrom: from, nodeTo: to, weight, minLatency: 0, maxLatency: 0,
    minBandwidth: minBw, maxBandwidth: maxBw, recommendedTransferSize: 0, recommendedSdmaEngineIdMask: 0, flags: 0 };
}

function pcieBandwidth(gen: number, isMin: boolean): number {
  // amdgpu_amdkfd_get_pcie_bandwidth_mbytes: min is x1 at Gen1, max is x16 at the top supported gen.
  if (isMin) return Math.floor((1 * 2500) / 8);
  const speed = [0, 2500, 5000, 8000, 16000, 32000][gen] ?? 16000;
  return Math.floor((16 * speed) / 8);
}

/** Number of xGMI links between two GPUs of a hive (0 = not directly connected). */
export function xgmiLinks(profile: MachineProfile, a: number, b: number): number {
  const ga = profile.gpus[a];
  if (!ga) return 0;
  if (ga.gfxTargetVersion === 90010) {
    // MI250X: the two GCDs of one package share 4 links; across packages GCDs of equal parity have one
    // direct link (3 per GCD, so 4 + 3 + 1 to the CPU = the 8 links of a GCD); the rest are 2 hops.
    if ((a >> 1) === (b >> 1)) return 4;
    return a % 2 === b % 2 ? 1 : 0;
  }
  // MI300X / MI300A hives are fully connected.
  return profile.gpus.length <= 4 ? 2 : 1;
}

export interface TopologyOptions {
  /** generation_id; the kernel starts at 1 and bumps on hot-plug. */
  generationId?: number;
}

/** Builds every node record of a profile (CPU nodes first, then GPUs in probe order). */
function buildNodes(profile: MachineProfile): NodeRecord[] {
  const nodes: NodeRecord[] = [];
  const cpuCount = profile.cpus.length;
  let apicBase = 0;
  profile.cpus.forEach((cpu, i) => {
    const threads = cpu.cores * (cpu.threadsPerCore ?? 2);
    const ioLinks: IoLinkRecord[] = [];
    // kfd_fill_iolink_info_for_cpu: one HyperTransport link to every other online node.
    for (let j = 0; j < cpuCount; j++) {
      if (j !== i) ioLinks.push(link(IOLINK_TYPE_HYPERTRANSPORT, i, j, REMOTE_NODE_DISTANCE, 0, 0));
    }
    nodes.push({
      gpuId: 0,
      name: '',
      cpu,
      props: [],
      memBanks: [{ heapType: 0, sizeInBytes: managedBytes(cpu), flags: 0, width: cpu.dmiMemory?.width ?? 0,
        memClkMax: cpu.dmiMemory?.speedMts ?? 0 }],
      caches: [],
      ioLinks,
      p2pLinks: [],
      hiveId: 0n,
    });
    nodes[i]!.props.push(['__cpu_core_id_base', apicBase], ['__threads', threads]);
    apicBase += 2 ** Math.ceil(Math.log2(Math.max(threads, 1)));
  });

  let processorIdLow = GPU_PROCESSOR_ID_LOW;
  profile.gpus.forEach((gpu, gi) => {
    const a = asicInfo(gpu.gfxTargetVersion);
    const nodeId = cpuCount + gi;
    const hostNode = Math.min(gpu.hostNode ?? 0, Math.max(cpuCount - 1, 0));
    const simdIdBase = processorIdLow;
    processorIdLow += a.shaderEngines * a.shPerSe * a.maxCuPerSh;
    const isApu = gpu.memoryKind === 'apu';
    const xgmiToCpu = gpu.memoryKind === 'coherent' || isApu;

    // kfd_fill_gpu_direct_io_link_to_cpu
    const ext = !isApu;
    const toCpu = xgmiToCpu
      ? link(IOLINK_TYPE_XGMI, nodeId, hostNode, ext ? KFD_CRAT_XGMI_WEIGHT : KFD_CRAT_INTRA_SOCKET_WEIGHT,
        ext ? 50000 : 819200, ext ? 50000 : 819200)
      : link(IOLINK_TYPE_PCIEXPRESS, nodeId, hostNode, 20, pcieBandwidth(gpu.pcieGen ?? 4, true),
        pcieBandwidth(gpu.pcieGen ?? 4, false));
    const node: NodeRecord = {
      gpuId: gpu.gpuId,
      name: a.asicName,
      gpu,
      props: [],
      memBanks: [{ heapType: 1, sizeInBytes: BigInt(gpu.vramBytes), flags: 0, width: a.vramWidth,
        memClkMax: a.memClkMaxMhz }],
      caches: gpuCaches(gpu, a, simdIdBase),
      ioLinks: [toCpu],
      p2pLinks: [],
      hiveId: kfdHiveId(gpu),
    };
    nodes.push(node);
    node.props.push(['__simd_id_base', simdIdBase]);

    // The CPU side of the GPU's direct link (bi-directional: xGMI, or a large-BAR PCIe GPU, which every
    // profile GPU is). Added before the peer links because the GPU's CRAT lists its CPU link first.
    const cpuNode = nodes[hostNode];
    if (cpuNode) cpuNode.ioLinks.push({ ...toCpu, nodeFrom: hostNode, nodeTo: nodeId });

    // xGMI links to GPUs of the same hive already added (lower proximity domain); the reverse link is
    // added to the peer because the CRAT entry is bi-directional (kfd_parse_subtype_iolink).
    const hive = kfdHiveId(gpu);
    if (hive !== 0n) {
      for (let pj = 0; pj < gi; pj++) {
        const peer = profile.gpus[pj]!;
        if (kfdHiveId(peer) !== hive) continue;
        let l: IoLinkRecord;
        if (multiNode(gpu)) {
          // kfd_fill_gpu_xgmi_link_to_gpu without TA info (num_nodes > 1): a node of the same device is one
          // hop at HBM bandwidth; any other node two sockets away, bandwidth unknown (0).
          const same = peer.partition?.device === gpu.partition!.device;
          const bw = same ? 819200 : 0;
          l = link(IOLINK_TYPE_XGMI, nodeId, cpuCount + pj,
            same ? KFD_CRAT_INTRA_SOCKET_WEIGHT : 2 * KFD_CRAT_INTRA_SOCKET_WEIGHT + KFD_CRAT_XGMI_WEIGHT, bw, bw);
        } else {
          const n = xgmiLinks(profile, gi, pj);
          const hops = n > 0 ? 1 : 2;
          l = link(IOLINK_TYPE_XGMI, nodeId, cpuCount + pj, KFD_CRAT_XGMI_WEIGHT * hops, n > 0 ? 50000 : 0, n * 50000);
        }
        node.ioLinks.push(l);
        nodes[cpuCount + pj]!.ioLinks.push({ ...l, nodeFrom: cpuCount + pj, nodeTo: nodeId });
      }
    }

    // kfd_dev_create_p2p_links → kfd_create_indirect_link_prop: GPU ↔ other CPU nodes through the CPU link.
    for (let c = 0; c < cpuCount; c++) {
      if (c === hostNode) continue;
      const cpuLink = nodes[c]!.ioLinks.find((l) => l.nodeTo === hostNode);
      if (!cpuLink) continue;
      const p = { ...toCpu, nodeFrom: nodeId, nodeTo: c, weight: toCpu.weight + cpuLink.weight,
        minBandwidth: Math.min(toCpu.minBandwidth, cpuLink.minBandwidth),
        maxBandwidth: Math.min(toCpu.maxBandwidth, cpuLink.maxBandwidth) };
      node.p2pLinks.push(p);
      nodes[c]!.p2pLinks.push({ ...p, nodeFrom: c, nodeTo: nodeId });
    }
    // kfd_add_peer_prop: GPUs not in one hive reach each other through PCIe peer-to-peer.
    for (let pj = 0; pj < gi; pj++) {
      const peer = profile.gpus[pj]!;
      if (kfdHiveId(peer) !== 0n && kfdHiveId(peer) === hive) continue;
      const peerNode = nodes[cpuCount + pj]!;
      const l1 = node.ioLinks[0]!;
      const l2 = peerNode.ioLinks[0]!;
      let weight = l1.weight + l2.weight;
      if (l1.nodeTo !== l2.nodeTo) weight += nodes[l1.nodeTo]?.ioLinks.find((l) => l.nodeTo === l2.nodeTo)?.weight ?? 0;
      // The kernel copies the first io link of the source (the new GPU's has no flags/SDMA mask yet; the
      // older peer's has them) and takes max_bandwidth from the peer link twice (sic).
      node.p2pLinks.push({ ...l1, nodeFrom: nodeId, nodeTo: cpuCount + pj, weight,
        minBandwidth: Math.min(l1.minBandwidth, l2.minBandwidth), maxBandwidth: l2.maxBandwidth,
        recommendedSdmaEngineIdMask: 0 });
      peerNode.p2pLinks.push({ ...l2, nodeFrom: cpuCount + pj, nodeTo: nodeId, weight,
        minBandwidth: Math.min(l1.minBandwidth, l2.minBandwidth), maxBandwidth: l1.maxBandwidth });
    }
    fillIolinkNonCratInfo(nodes, nodeId, profile);
  });
  return nodes;
}

/** kfd_fill_iolink_non_crat_info (with kfd_set_iolink_non_coherent and kfd_set_recommended_sdma_engines). */
function fillIolinkNonCratInfo(nodes: NodeRecord[], nodeId: number, profile: MachineProfile): void {
  const dev = nodes[nodeId]!;
  const gpu = dev.gpu!;
  const a = asicInfo(gpu.gfxTargetVersion);
  for (const l of dev.ioLinks) {
    l.flags = IOLINK_FLAG_ENABLED;
    const peer = nodes[l.nodeTo];
    if (!peer) continue;
    if (!peer.gpu && l.type === IOLINK_TYPE_XGMI) {
      // "Include the CPU peer in GPU hive if connected over xGMI."
      if (dev.hiveId === 0n) dev.hiveId = BigInt(pciDevId(gpu));
      peer.hiveId = dev.hiveId;
    }
    for (const inbound of peer.ioLinks) {
      if (inbound.nodeTo !== l.nodeFrom) continue;
      inbound.flags = IOLINK_FLAG_ENABLED;
      if (!peer.gpu && inbound.type === IOLINK_TYPE_PCIEXPRESS) inbound.flags |= IOLINK_FLAG_NON_COHERENT;
      if (peer.gpu && inbound.type === IOLINK_TYPE_PCIEXPRESS) {
        l.flags |= IOLINK_FLAG_NON_COHERENT;
        inbound.flags |= IOLINK_FLAG_NON_COHERENT;
      }
      const gpus = profile.gpus.length;
      const sdma = sdmaEngines(gpu, a);
      // support_rec_eng also needs kfd->num_nodes == 1 (an unpartitioned device).
      const supportRec = peer.gpu !== undefined && gpu.memoryKind !== 'apu' && gpus === 8 && !multiNode(gpu) &&
        sdma.xgmi >= 14 && gcIpVersion(gpu.gfxTargetVersion)?.[2] === 3;
      if (supportRec) {
        const src = profile.gpus.indexOf(gpu);
        const dst = peer.gpu ? profile.gpus.indexOf(peer.gpu) : 0;
        l.recommendedSdmaEngineIdMask = 1 << (REC_SDMA_ENG_MAP[src]?.[dst] ?? 0);
        inbound.recommendedSdmaEngineIdMask = 1 << (REC_SDMA_ENG_MAP[dst]?.[src] ?? 0);
      } else {
        let num = sdma.pcie;
        let offset = 0;
        if (l.type === IOLINK_TYPE_XGMI && sdma.xgmi && peer.gpu) {
          offset = sdma.pcie;
          num = sdma.xgmi;
        }
        for (let i = 0; i < num; i++) {
          l.recommendedSdmaEngineIdMask |= 1 << (i + offset);
          inbound.recommendedSdmaEngineIdMask |= 1 << (i + offset);
        }
      }
    }
  }
  for (const l of dev.p2pLinks) {
    l.flags = IOLINK_FLAG_ENABLED;
    const peer = nodes[l.nodeTo];
    if (!peer) continue;
    for (const inbound of peer.p2pLinks) {
      if (inbound.nodeTo !== l.nodeFrom) continue;
      inbound.flags = IOLINK_FLAG_ENABLED;
      if (!peer.gpu && inbound.type === IOLINK_TYPE_PCIEXPRESS) inbound.flags |= IOLINK_FLAG_NON_COHERENT;
      if (peer.gpu && inbound.type === IOLINK_TYPE_PCIEXPRESS) {
        l.flags |= IOLINK_FLAG_NON_COHERENT;
        inbound.flags |= IOLINK_FLAG_NON_COHERENT;
      }
    }
  }
}

function gpuCapability(gpu: GpuDescription, a: AsicInfo): number {
  const ip = gcIpVersion(gpu.gfxTargetVersion);
  let cap = 0;
  // node_show: ilog2(num_of_watch_points = 4) = 2
  cap |= CAP.WATCH_POINTS_SUPPORTED | (2 << CAP.WATCH_POINTS_TOTALBITS_SHIFT);
  // kfd_topology_set_capabilities
  cap |= 2 << CAP.DOORBELL_TYPE_SHIFT;
  cap |= CAP.TRAP_DEBUG_SUPPORT | CAP.TRAP_DEBUG_WAVE_LAUNCH_TRAP_OVERRIDE_SUPPORTED |
    CAP.TRAP_DEBUG_WAVE_LAUNCH_MODE_SUPPORTED;
  if (ip && ip[0] === 9 && (ip[1] > 4 || (ip[1] === 4 && ip[2] >= 2))) {
    cap |= CAP.TRAP_DEBUG_PRECISE_MEMORY_OPERATIONS_SUPPORTED;
  }
  cap |= CAP.TRAP_DEBUG_FIRMWARE_SUPPORTED;
  cap |= (a.revId << CAP.ASIC_REVISION_SHIFT) & CAP.ASIC_REVISION_MASK;
  // RAS is enabled on Instinct parts (GFX and UMC blocks).
  cap |= CAP.SRAM_EDCSUPPORTED | CAP.MEM_EDCSUPPORTED | CAP.RASEVENTNOTIFY;
  if (gpu.svmSupported) cap |= CAP.SVMAPI_SUPPORTED;
  if (gpu.memoryKind === 'coherent' || gpu.memoryKind === 'apu') cap |= CAP.FLAGS_COHERENTHOSTACCESS;
  return cap >>> 0;
}

function debugProp(gpu: GpuDescription): bigint {
  const ip = gcIpVersion(gpu.gfxTargetVersion);
  if (ip && ip[2] === 3) return BigInt(7 | (30 << 4) | 0x400); // GFX9_4_3 watch masks, dispatch info valid
  if (ip && ip[2] === 2) return BigInt(6 | (29 << 4)); // GFX9 masks; 9.4.2 has no always-set-up TTMPs
  return BigInt(6 | (29 << 4) | 0x400);
}

function nodeProperties(n: NodeRecord, cpuMaxMhz: number): [string, number | bigint][] {
  const g = n.gpu;
  const get = (k: string): number => Number(n.props.find(([key]) => key === k)?.[1] ?? 0);
  if (!g) {
    const cpu = n.cpu!;
    return [
      ['cpu_cores_count', get('__threads')], ['simd_count', 0], ['mem_banks_count', n.memBanks.length],
      ['caches_count', n.caches.length], ['io_links_count', n.ioLinks.length],
      ['p2p_links_count', n.p2pLinks.length], ['cpu_core_id_base', get('__cpu_core_id_base')],
      ['simd_id_base', 0], ['max_waves_per_simd', 0], ['lds_size_in_kb', 0], ['gds_size_in_kb', 0],
      ['num_gws', 0], ['wave_front_size', 0], ['array_count', 0], ['simd_arrays_per_engine', 0],
      ['cu_per_simd_array', 0], ['simd_per_cu', 0], ['max_slots_scratch_cu', 0], ['gfx_target_version', 0],
      ['vendor_id', 0], ['device_id', 0], ['location_id', 0], ['domain', 0], ['drm_render_minor', 0],
      ['hive_id', n.hiveId], ['num_sdma_engines', 0], ['num_sdma_xgmi_engines', 0],
      ['num_sdma_queues_per_engine', 0], ['num_cp_queues', 0], ['cwsr_size', 0], ['ctl_stack_size', 0],
      ['max_engine_clk_ccompute', cpu.maxClockMhz ?? cpuMaxMhz],
    ];
  }
  const a = asicInfo(g.gfxTargetVersion);
  const arrayCount = a.shaderEngines * a.shPerSe * g.numXcc;
  const sdma = sdmaEngines(g, a);
  // kfd_topology_add_device: a node of a split device ORs its node_id into location_id.
  const locationId = multiNode(g) ? (pciDevId(g) | g.partition!.xcpId) : pciDevId(g);
  const { ctlStackSize, cwsrSize } = cwsrSizes(g.gfxTargetVersion, g.simdCount, a.simdPerCu, g.numXcc,
    arrayCount, a.shPerSe);
  return [
    ['cpu_cores_count', 0], ['simd_count', g.simdCount], ['mem_banks_count', n.memBanks.length],
    ['caches_count', n.caches.length], ['io_links_count', n.ioLinks.length],
    ['p2p_links_count', n.p2pLinks.length], ['cpu_core_id_base', 0], ['simd_id_base', get('__simd_id_base')],
    ['max_waves_per_simd', a.maxWavesPerSimd], ['lds_size_in_kb', a.ldsSizeKb], ['gds_size_in_kb', 0],
    ['num_gws', a.numGws], ['wave_front_size', a.waveFrontSize], ['array_count', arrayCount],
    ['simd_arrays_per_engine', a.shPerSe], ['cu_per_simd_array', a.maxCuPerSh], ['simd_per_cu', a.simdPerCu],
    ['max_slots_scratch_cu', a.maxSlotsScratchCu], ['gfx_target_version', g.gfxTargetVersion],
    ['vendor_id', g.vendorId], ['device_id', g.deviceId], ['location_id', locationId], ['domain', g.pci.domain],
    ['drm_render_minor', g.drmRenderMinor], ['hive_id', n.hiveId], ['num_sdma_engines', sdma.pcie],
    ['num_sdma_xgmi_engines', sdma.xgmi], ['num_sdma_queues_per_engine', a.numSdmaQueuesPerEngine],
    ['num_cp_queues', a.numCpQueues], ['cwsr_size', cwsrSize], ['ctl_stack_size', ctlStackSize],
    ['max_engine_clk_fcompute', a.maxEngineClkMhz],
    // node_show writes 0 here unconditionally (the real size is in mem_banks).
    ['local_mem_size', 0n],
    ['fw_version', a.mecFwVersion], ['capability', gpuCapability(g, a)], ['debug_prop', debugProp(g)],
    ['sdma_fw_version', a.sdmaFwVersion], ['unique_id', uniqueId(g)], ['num_xcc', g.numXcc],
    ['max_engine_clk_ccompute', cpuMaxMhz],
  ];
}

/**
 * adev->unique_id: the serial number fused into the part; a stable 64-bit value derived from the PCI id.
 * It is the adev's, so every node of a partitioned device shows the same one.
 */
function uniqueId(g: GpuDescription): bigint {
  const seed = g.partition ? 0xa1 + g.partition.device : g.gpuId;
  let x = (BigInt(seed) << 32n) ^ (BigInt(pciDevId(g)) << 8n) ^ 0x5a3c96e1d2b4f087n;
  x ^= x >> 29n;
  x = (x * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
  x ^= x >> 32n;
  return x;
}

/** The files of the topology tree, path → content, relative to /sys/class/kfd/kfd/topology. */
export function topologyFiles(profile: MachineProfile, opts: TopologyOptions = {}): Map<string, string> {
  const files = new Map<string, string>();
  const platform = profile.platform ?? { oemId: 'AMD   ', oemTableId: 'AMD     ', oemRevision: 1 };
  files.set('generation_id', `${opts.generationId ?? 1}\n`);
  files.set('system_properties',
    `platform_oem ${oemIdValue(platform.oemTableId, 8)}\nplatform_id ${oemIdValue(platform.oemId, 6)}\n` +
    `platform_rev ${platform.oemRevision}\n`);
  const nodes = buildNodes(profile);
  const cpuMaxMhz = profile.cpus[0]?.maxClockMhz ?? 0;
  nodes.forEach((n, i) => {
    const dir = `nodes/${i}`;
    files.set(`${dir}/gpu_id`, `${n.gpuId}\n`);
    files.set(`${dir}/name`, `${n.name}\n`);
    files.set(`${dir}/properties`, nodeProperties(n, cpuMaxMhz).map(([k, v]) => `${k} ${v}\n`).join(''));
    n.memBanks.forEach((m, j) => files.set(`${dir}/mem_banks/${j}/properties`, formatMemBank(m)));
    n.caches.forEach((c, j) => files.set(`${dir}/caches/${j}/properties`, formatCache(c)));
    n.ioLinks.forEach((l, j) => files.set(`${dir}/io_links/${j}/properties`, formatIoLink(l)));
    n.p2pLinks.forEach((l, j) => files.set(`${dir}/p2p_links/${j}/properties`, formatIoLink(l)));
  });
  return files;
}

/** The profile's KFD topology as a TreeReader, which src/platform/topology.ts parses back. */
export function topologyTree(profile: MachineProfile, opts: TopologyOptions = {}): MapTreeReader & TreeReader {
  const reader = new MapTreeReader(topologyFiles(profile, opts));
  // Empty directories exist in sysfs even without entries (kfd_build_sysfs_node_entry creates them).
  return withEmptyDirs(reader, profile);
}

function withEmptyDirs(reader: MapTreeReader, profile: MachineProfile): MapTreeReader {
  const count = profile.cpus.length + profile.gpus.length;
  const orig = reader.listDir.bind(reader);
  reader.listDir = (path: string): string[] | undefined => {
    const p = path.replace(/^\/+|\/+$/g, '');
    const found = orig(p);
    const m = /^nodes\/(\d+)$/.exec(p);
    if (found && m && Number(m[1]) < count) {
      // Every node directory holds these subdirectories, empty or not (kfd_build_sysfs_node_entry).
      return [...new Set([...found, 'mem_banks', 'caches', 'io_links', 'p2p_links', 'perf'])];
    }
    if (!found) {
      const sub = /^nodes\/(\d+)\/(mem_banks|caches|io_links|p2p_links|perf)$/.exec(p);
      if (sub && Number(sub[1]) < count) return [];
    }
    return found;
  };
  return reader;
}
