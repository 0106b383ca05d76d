/**
 * The machine profiles: real classes of machine, described by the facts the kernel would report, from
 * which src/platform/topology-gen.ts and iomem-gen.ts write the text a real kernel shows. The simulator
 * builds its machines from these and reads them back through the same parsers as the kfd backend.
 *
 * Sources: kfd-in-qemu.md (the cpu-only guest, measured), kfd-svm-facts.md, and the 6.12 driver
 * (kfd_device.c gfx_target_version per IP, amdgpu_drv.c PCI ids, kfd_topology.c / kfd_crat.c). Values
 * that no source fixes (PCI bus numbers, physical placement of coherent VRAM, hive ids, clocks, OEM
 * strings) are set to what such machines typically show and are marked "typical" below.
 */
import type { TreeReader } from '../backend/contract.js';
import type { ComputePartitionMode, CpuDescription, GpuDescription, MachineProfile, MemoryPartitionMode } from './profile-types.js';
import { kfdGpuId } from './asic.js';
import { topologyTree as genTopologyTree, type TopologyOptions } from './topology-gen.js';
import { iomemText as genIomemText } from './iomem-gen.js';
import { deviceXcps } from './partitions.js';

export const PROFILE_IDS = ['mi250x', 'mi210', 'mi300a', 'mi300x', 'mi300x-dpx', 'mi300x-cpx-nps4', 'cpu-only'] as const;
export type ProfileId = (typeof PROFILE_IDS)[number];
export const DEFAULT_PROFILE: ProfileId = 'mi250x';

const GiB = 1024 ** 3;
const AMD = 0x1002;

interface GpuSpec {
  marketingName: string;
  gfxTargetVersion: number;
  deviceId: number;
  subsystemDeviceId: number;
  bus: number;
  domain?: number;
  simdCount: number;
  numXcc: number;
  vramBytes: number;
  memoryKind: GpuDescription['memoryKind'];
  spmStart?: bigint;
  hiveId: bigint;
  hostNode: number;
  hostLink: GpuDescription['hostLink'];
  pcieGen: number;
  /**
   * DRM render nodes the device takes at probe: 1, or MAX_XCP = 8 on GC 9.4.3 (MI300A/X), where
   * amdgpu_xcp_mgr_init → amdgpu_xcp_dev_alloc makes 7 partition devices besides its own in every mode.
   */
  renderNodes?: number;
}

/** Fills in the derived fields, the gpu_id above all, which the kernel hashes from PCI and memory facts. */
function gpus(specs: GpuSpec[]): GpuDescription[] {
  const taken = new Set<number>();
  let minor = 128;
  return specs.map((s) => {
    const gpuId = kfdGpuId({
      devfn: 0,
      subsystemVendor: AMD,
      subsystemDevice: s.subsystemDeviceId,
      domain: s.domain ?? 0,
      deviceId: s.deviceId,
      bus: s.bus,
      localMemSize: BigInt(s.vramBytes),
      firstXcc: 0,
      numXcc: s.numXcc,
    }, taken);
    taken.add(gpuId);
    const g: GpuDescription = {
      marketingName: s.marketingName,
      gfxTargetVersion: s.gfxTargetVersion,
      gpuId,
      vendorId: AMD,
      deviceId: s.deviceId,
      pci: { domain: s.domain ?? 0, bus: s.bus, device: 0, function: 0 },
      drmRenderMinor: minor,
      simdCount: s.simdCount,
      numXcc: s.numXcc,
      vramBytes: s.vramBytes,
      memoryKind: s.memoryKind,
      hiveId: s.hiveId,
      // KFD_IS_SVM_API_SUPPORTED: a pgmap (coherent or private) or an APU; all these parts have one.
      svmSupported: true,
      // KFD_SUPPORT_XNACK_PER_PROCESS: GC 9.4.2 (gfx90a) and 9.4.3 (gfx942).
      xnackSupported: true,
      hostLink: s.hostLink,
      hostNode: s.hostNode,
      subsystemDeviceId: s.subsystemDeviceId,
      pcieGen: s.pcieGen,
    };
    minor += s.renderNodes ?? 1;
    if (s.spmStart !== undefined) g.spmRange = { start: s.spmStart, size: BigInt(s.vramBytes) };
    return g;
  });
}

/** Frontier-like HPE Cray EX235a node: one EPYC 7A53, 4 × MI250X = 8 GCDs, CPU–GPU xGMI (coherent). */
function mi250x(): MachineProfile {
  // GCD PCI buses as on Frontier nodes (c1, c6, c9, ce, d1, d6, d9, de); all eight GCDs in one hive.
  const buses = [0xc1, 0xc6, 0xc9, 0xce, 0xd1, 0xd6, 0xd9, 0xde];
  const cpu: CpuDescription = {
    name: 'AMD EPYC 7A53 64-Core Processor', cores: 64, memoryBytes: 512 * GiB, threadsPerCore: 2,
    dmiMemory: { width: 72, speedMts: 3200 }, maxClockMhz: 3541,
  };
  return {
    id: 'mi250x',
    description: 'Frontier-like node: 1× AMD EPYC 7A53 (64 cores, 512 GiB DDR4), 4× AMD Instinct MI250X ' +
      '= 8 GCDs gfx90a with 64 GiB HBM2e each, xGMI to the CPU: VRAM is Soft Reserved memory, DEVICE_COHERENT',
    kfdVersion: { major: 1, minor: 17 },
    cpus: [cpu],
    gpus: gpus(buses.map((bus, i) => ({
      marketingName: `AMD Instinct MI250X (GCD ${i})`,
      gfxTargetVersion: 90010,
      deviceId: 0x740c,
      subsystemDeviceId: 0x0b0c,
      bus,
      simdCount: 440, // 110 CUs × 4 SIMDs
      numXcc: 1,
      vramBytes: 64 * GiB,
      memoryKind: 'coherent',
      // typical: the firmware places each GCD's HBM above system RAM, 64 GiB apart, from 1 TiB.
      spmStart: 0x10000000000n + BigInt(i) * 0x1000000000n,
      hiveId: 0x3d1c6e2fa0b94875n, // typical (the PSP's hive id)
      hostNode: 0,
      // Infinity Fabric CPU–GCD link: 36 GB/s per direction.
      hostLink: { kind: 'xgmi', bandwidthBytesPerSecond: 36e9, latencyNs: 8_000 },
      pcieGen: 4,
    }))),
    xnackDefault: false, // amdgpu_gmc_noretry_set: noretry defaults to 1 on GC 9.4.2
    platform: { oemId: 'HPE   ', oemTableId: 'EX235a  ', oemRevision: 1 }, // typical
    firmware: 'server',
  };
}

/** PCIe workstation: one EPYC 7313P, 2 × MI210 (gfx90a, 64 GiB), device-private VRAM. */
function mi210(): MachineProfile {
  return {
    id: 'mi210',
    description: 'PCIe workstation: 1× AMD EPYC 7313P (16 cores, 256 GiB DDR4), 2× AMD Instinct MI210 ' +
      'gfx90a with 64 GiB HBM2e, PCIe 4.0 x16: VRAM is DEVICE_PRIVATE (a CPU touch migrates it back)',
    kfdVersion: { major: 1, minor: 17 },
    cpus: [{ name: 'AMD EPYC 7313P 16-Core Processor', cores: 16, memoryBytes: 256 * GiB, threadsPerCore: 2,
      dmiMemory: { width: 72, speedMts: 3200 }, maxClockMhz: 3729 }],
    gpus: gpus([0x03, 0x43].map((bus, i) => ({
      marketingName: `AMD Instinct MI210 (${i})`,
      gfxTargetVersion: 90010,
      deviceId: 0x740f,
      subsystemDeviceId: 0x0c34,
      bus,
      simdCount: 416, // 104 CUs × 4
      numXcc: 1,
      vramBytes: 64 * GiB,
      memoryKind: 'private',
      hiveId: 0n, // no xGMI bridge: peers over PCIe
      hostNode: 0,
      hostLink: { kind: 'pcie', bandwidthBytesPerSecond: 25e9, latencyNs: 15_000 },
      pcieGen: 4,
    }))),
    xnackDefault: false,
    platform: { oemId: 'SUPERM', oemTableId: 'SMCI--MB', oemRevision: 0x1072009 }, // typical
    firmware: 'server',
  };
}

/** MI300A APU node (El Capitan class): 4 sockets, each 24 Zen 4 cores + a gfx942 GPU on 128 GiB HBM3. */
function mi300a(): MachineProfile {
  const buses = [0x02, 0x42, 0x82, 0xc2];
  return {
    id: 'mi300a',
    description: 'APU node: 4× AMD Instinct MI300A (24 Zen 4 cores + gfx942 GPU with 228 CUs each), ' +
      '4 × 128 GiB unified HBM3 as system RAM: one memory, no VRAM to migrate to',
    kfdVersion: { major: 1, minor: 17 },
    cpus: buses.map(() => ({ name: 'AMD Instinct MI300A Accelerator', cores: 24, memoryBytes: 128 * GiB,
      threadsPerCore: 2, maxClockMhz: 3700 })),
    gpus: gpus(buses.map((bus, i) => ({
      marketingName: `AMD Instinct MI300A (${i})`,
      gfxTargetVersion: 90402,
      deviceId: 0x74a0,
      subsystemDeviceId: 0x74a0,
      bus,
      simdCount: 912, // 228 CUs × 4
      numXcc: 6,
      // The GPU node's bank is the socket's memory partition (amdgpu_gmc_init_acpi_mem_ranges).
      vramBytes: 128 * GiB,
      memoryKind: 'apu',
      hiveId: 0x71e0a3c95b2d4f18n, // typical
      hostNode: i,
      hostLink: { kind: 'xgmi', bandwidthBytesPerSecond: 400e9, latencyNs: 2_000 },
      pcieGen: 5,
      renderNodes: 8,
    }))),
    xnackDefault: false, // noretry defaults to 1 on GC 9.4.3
    platform: { oemId: 'HPE   ', oemTableId: 'EX255a  ', oemRevision: 1 }, // typical
    firmware: 'server',
  };
}

/** The host CPU of the MI300X servers: one socket of a 2-socket EPYC 9654 board, 768 GiB of DDR5-4800. */
const epyc9654 = (): CpuDescription => ({ name: 'AMD EPYC 9654 96-Core Processor', cores: 96, memoryBytes: 768 * GiB,
  threadsPerCore: 2, dmiMemory: { width: 80, speedMts: 4800 }, maxClockMhz: 3707 });
/** Their ACPI table ids (typical of such a server). */
const MI300X_SERVER_PLATFORM: MachineProfile['platform'] = { oemId: 'DELL  ', oemTableId: 'PE_SC3  ', oemRevision: 0 };

/** adev->gmc.real_vram_size of an MI300X: RCC_CONFIG_MEMSIZE reports 196592 MiB (192 GiB less 16 MiB). */
const MI300X_REAL_VRAM = 192 * GiB - 16 * 1024 * 1024;

/** 8-GPU MI300X box: 2 × EPYC 9654, 8 × MI300X (gfx942, 192 GiB) on PCIe 5.0, one xGMI hive. */
function mi300x(): MachineProfile {
  const buses = [0x05, 0x26, 0x46, 0x65, 0x85, 0xa6, 0xc6, 0xe5];
  return {
    id: 'mi300x',
    description: '8-GPU server: 2× AMD EPYC 9654 (96 cores, 768 GiB DDR5 each), 8× AMD Instinct MI300X ' +
      'gfx942 with 192 GiB HBM3, PCIe 5.0 x16 to the host: VRAM is DEVICE_PRIVATE',
    kfdVersion: { major: 1, minor: 17 },
    cpus: [epyc9654(), epyc9654()],
    gpus: gpus(buses.map((bus, i) => ({
      marketingName: `AMD Instinct MI300X (${i})`,
      gfxTargetVersion: 90402,
      deviceId: 0x74a1,
      subsystemDeviceId: 0x74a1,
      bus,
      simdCount: 1216, // 304 CUs × 4
      numXcc: 8,
      // KFD_XCP_MEMORY_SIZE of the one XCP in SPX/NPS1: the one memory range, real_vram_size
      // (gmc_v9_0_init_sw_mem_ranges).
      vramBytes: MI300X_REAL_VRAM,
      memoryKind: 'private',
      hiveId: 0x5c83e1d04a7f2b96n, // typical
      hostNode: i < 4 ? 0 : 1,
      hostLink: { kind: 'pcie', bandwidthBytesPerSecond: 50e9, latencyNs: 12_000 },
      pcieGen: 5,
      renderNodes: 8,
    }))),
    xnackDefault: false,
    platform: MI300X_SERVER_PLATFORM,
    firmware: 'server',
  };
}

/** MI300X: 304 CUs (38 per XCC) × 4 SIMDs over 8 XCCs. */
const MI300X_CUS = 304;

interface PartitionedSpec {
  bus: number;
  hostNode: number;
  hiveId: bigint;
}

/**
 * The KFD nodes of partitioned MI300X devices, device by device and XCP by XCP, as kgd2kfd_device_init
 * adds them: each node's VRAM is amdgpu_amdkfd_xcp_memory_size, its simd_count is kfd_crat.c's
 * simd_per_cu * (cu_info.number / num_nodes), its XCCs are the XCP's, and its gpu_id hashes that size and
 * the XCP's first XCC (kfd_generate_gpu_id). Render minors: amdgpu_xcp_dev_alloc gives every device its own
 * render node plus MAX_XCP - 1 = 7 partition render nodes at probe, whatever the mode, so device d's XCP x
 * is renderD(128 + 8d + x).
 */
function partitionedMi300x(specs: PartitionedSpec[], compute: ComputePartitionMode,
  memory: MemoryPartitionMode): GpuDescription[] {
  const taken = new Set<number>();
  const out: GpuDescription[] = [];
  specs.forEach((s, d) => {
    const xcps = deviceXcps(d, compute, memory, 8, MI300X_REAL_VRAM);
    for (const x of xcps) {
      const gpuId = kfdGpuId({
        devfn: 0, subsystemVendor: AMD, subsystemDevice: 0x74a1, domain: 0, deviceId: 0x74a1, bus: s.bus,
        localMemSize: BigInt(x.vramBytes), firstXcc: x.firstXcc, numXcc: x.numXcc,
      }, taken);
      taken.add(gpuId);
      out.push({
        marketingName: `AMD Instinct MI300X (${d}, ${compute} partition ${x.partition.xcpId})`,
        gfxTargetVersion: 90402,
        gpuId,
        vendorId: AMD,
        deviceId: 0x74a1,
        pci: { domain: 0, bus: s.bus, device: 0, function: 0 },
        drmRenderMinor: 128 + 8 * d + x.partition.xcpId,
        simdCount: 4 * Math.floor(MI300X_CUS / x.partition.xcpCount),
        numXcc: x.numXcc,
        vramBytes: x.vramBytes,
        memoryKind: 'private',
        hiveId: s.hiveId,
        svmSupported: true,
        xnackSupported: true,
        hostLink: { kind: 'pcie', bandwidthBytesPerSecond: 50e9, latencyNs: 12_000 },
        hostNode: s.hostNode,
        subsystemDeviceId: 0x74a1,
        pcieGen: 5,
        partition: x.partition,
      });
    }
  });
  return out;
}

const MI300X_BUSES = [0x05, 0x26, 0x46, 0x65, 0x85, 0xa6, 0xc6, 0xe5];

/**
 * The `mi300x` box in DPX + NPS1: 8 × 2 = 16 KFD nodes, each with 4 XCCs (152 CUs) and half the HBM
 * (96 GiB − 8 MiB), all in the one xGMI hive.
 */
function mi300xDpx(): MachineProfile {
  return {
    id: 'mi300x-dpx',
    description: '8-GPU server as mi300x, partitioned DPX + NPS1: 16 KFD nodes (2 per MI300X), each 4 XCCs / ' +
      '152 CUs with 96 GiB − 8 MiB of HBM3, one xGMI hive; VRAM is DEVICE_PRIVATE',
    kfdVersion: { major: 1, minor: 17 },
    cpus: [epyc9654(), epyc9654()],
    gpus: partitionedMi300x(MI300X_BUSES.map((bus, i) => ({ bus, hostNode: i < 4 ? 0 : 1,
      hiveId: 0x5c83e1d04a7f2b96n })), 'DPX', 'NPS1'),
    xnackDefault: false,
    platform: MI300X_SERVER_PLATFORM,
    firmware: 'server',
  };
}

/**
 * Two MI300X in CPX + NPS4: 2 × 8 = 16 KFD nodes of one XCC (38 CUs) each; XCPs 2k and 2k+1 share memory
 * partition k (48 GiB, the last one 48 GiB − 16 MiB), so a node has 24 GiB (nodes 6 and 7: 24 GiB − 8 MiB).
 * A full 8-GPU box in CPX has 64 nodes, more than the simulator's 31; this one keeps two devices, and
 * without xGMI peer access between them (amdgpu.use_xgmi_p2p=0: the adev's xGMI hive id is not used), so
 * the nodes of one device are one hive only by being one adev (KFD's hive_id is then pci_dev_id).
 */
function mi300xCpxNps4(): MachineProfile {
  return {
    id: 'mi300x-cpx-nps4',
    description: '2× AMD Instinct MI300X partitioned CPX + NPS4 on 1× AMD EPYC 9654 (96 cores, 768 GiB DDR5): ' +
      '16 KFD nodes, each 1 XCC / 38 CUs with 24 GiB of HBM3 (2 XCPs per 48 GiB memory partition), ' +
      'PCIe 5.0, no xGMI peer access (use_xgmi_p2p=0); VRAM is DEVICE_PRIVATE',
    kfdVersion: { major: 1, minor: 17 },
    cpus: [epyc9654()],
    gpus: partitionedMi300x(MI300X_BUSES.slice(0, 2).map((bus) => ({ bus, hostNode: 0, hiveId: 0n })), 'CPX', 'NPS4'),
    xnackDefault: false,
    platform: MI300X_SERVER_PLATFORM,
    firmware: 'server',
  };
}

/**
 * No GPU: the KFD virtual CRAT gives one CPU node with gpu_id 0. The values are the QEMU guest the
 * reference measured on 6.12 (kfd-in-qemu.md: -smp 2 -m 2G, size_in_bytes 2067599360, BOCHS/BXPC ids).
 */
function cpuOnly(): MachineProfile {
  return {
    id: 'cpu-only',
    description: 'No GPU: KFD with a virtual CRAT, one CPU node (gpu_id 0), as in a QEMU q35 guest with 2 CPUs ' +
      'and 2 GiB (measured on Linux 6.12)',
    kfdVersion: { major: 1, minor: 17 },
    cpus: [{ name: '', cores: 2, threadsPerCore: 1, memoryBytes: 2 * GiB, managedBytes: 2067599360, maxClockMhz: 0 }],
    gpus: [],
    // kfd_process_xnack_mode() is vacuously true with no GPU (the custom SVM kernel answered 1).
    xnackDefault: true,
    platform: { oemId: 'BOCHS ', oemTableId: 'BXPC    ', oemRevision: 1 },
    firmware: 'qemu-q35',
  };
}

const BUILDERS: Record<ProfileId, () => MachineProfile> = {
  mi250x,
  mi210,
  mi300a,
  mi300x,
  'mi300x-dpx': mi300xDpx,
  'mi300x-cpx-nps4': mi300xCpxNps4,
  'cpu-only': cpuOnly,
};

export function isProfileId(id: string): id is ProfileId {
  return (PROFILE_IDS as readonly string[]).includes(id);
}

/** A fresh copy of a profile (callers may change it). Unknown ids throw an Error naming the valid ones. */
export function getProfile(id: string): MachineProfile {
  if (!isProfileId(id)) {
    throw new Error(`unknown machine profile "${id}"; valid profiles: ${PROFILE_IDS.join(', ')}`);
  }
  return BUILDERS[id]();
}

/**
 * Generated trees by profile content: writing a tree costs tens of milliseconds for the big machines
 * (thousands of cache files), and a simulator opens the same few profiles again and again. The readers
 * are read-only, so one instance can serve every caller.
 */
const treeCache = new Map<string, TreeReader>();
const TREE_CACHE_MAX = 16;

function profileKey(p: MachineProfile, opts: TopologyOptions): string {
  return JSON.stringify([p, opts], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** The profile's KFD topology tree (/sys/class/kfd/kfd/topology), as the kernel would write it. */
export function topologyTree(p: MachineProfile, opts: TopologyOptions = {}): TreeReader {
  const key = profileKey(p, opts);
  let tree = treeCache.get(key);
  if (!tree) {
    tree = genTopologyTree(p, opts);
    if (treeCache.size >= TREE_CACHE_MAX) treeCache.delete(treeCache.keys().next().value as string);
    treeCache.set(key, tree);
  }
  return tree;
}

/** The profile's /proc/iomem; hideAddresses gives the all-zero view of a reader without CAP_SYS_ADMIN. */
export function iomemText(p: MachineProfile, opts: { hideAddresses?: boolean } = {}): string {
  return genIomemText(p, opts);
}
