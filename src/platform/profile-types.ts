/**
 * A machine description: the facts from which the profile generator (src/platform/profiles.ts) writes a
 * KFD topology tree and an /proc/iomem listing, and from which the simulator takes its device rules.
 * The simulator never reads these fields for anything the kernel would tell it through text: it parses
 * the generated text back through the same parsers as the kfd backend.
 */

/** How a GPU's VRAM pages appear to the CPU (kfd_migrate.c: svm_migrate_init). */
export type DeviceMemoryKind =
  /** xgmi.connected_to_cpu: VRAM is Soft Reserved memory, MEMORY_DEVICE_COHERENT; the CPU maps it. */
  | 'coherent'
  /** PCIe: VRAM pages are MEMORY_DEVICE_PRIVATE; a CPU touch migrates them back (svm_migrate_to_ram). */
  | 'private'
  /** APU (MI300A): one memory, no VRAM to migrate to. */
  | 'apu';

export interface PciAddress {
  domain: number;
  bus: number;
  device: number;
  function: number;
}

export interface GpuDescription {
  /** Marketing name, e.g. 'AMD Instinct MI250X (GCD 0)'. */
  marketingName: string;
  /** gfx_target_version as the kernel writes it: 90010 = gfx90a, 90402 = gfx942. */
  gfxTargetVersion: number;
  /** The gpu_id the kernel would derive (a hash; any stable non-zero u32 in a profile). */
  gpuId: number;
  /** PCI vendor/device ids. */
  vendorId: number;
  deviceId: number;
  pci: PciAddress;
  /** /dev/dri/renderD<minor>. */
  drmRenderMinor: number;
  simdCount: number;
  numXcc: number;
  /** Bytes of local memory (HBM); for an APU the carve-out the driver reports. */
  vramBytes: number;
  memoryKind: DeviceMemoryKind;
  /** For 'coherent': the physical range of VRAM that the firmware lists as Soft Reserved. */
  spmRange?: { start: bigint; size: bigint };
  /** NUMA node the GPU memory is exposed as (coherent parts), if any. */
  numaNode?: number;
  /** XGMI hive id (0 = none). */
  hiveId: bigint;
  /** The capability bits of the properties file that matter to SVM. */
  svmSupported: boolean;
  xnackSupported: boolean;
  /** Host link used for migration: sustained bytes per second and per-migration latency. */
  hostLink: { kind: 'xgmi' | 'pcie'; bandwidthBytesPerSecond: number; latencyNs: number };
  /** Optional details for the topology generator (src/platform/profiles.ts); defaults are derived. */
  /** The KFD CPU node (NUMA node of the PCIe root) the GPU hangs off; default 0. */
  hostNode?: number;
  /** PCI subsystem device id (vendor 0x1002 assumed); it feeds the kernel's gpu_id hash. */
  subsystemDeviceId?: number;
  /** PCIe generation of the host link (4 or 5), for the io_link bandwidth the kernel computes. */
  pcieGen?: number;
  /**
   * Set when this entry is one KFD node of a spatially partitioned device (GC 9.4.3, e.g. MI300X in
   * DPX/QPX/CPX): kgd2kfd_device_init makes one kfd_node per XCP. `vramBytes`, `simdCount` and `numXcc` are
   * then the node's (amdgpu_amdkfd_xcp_memory_size, cu_info.number / num_nodes, the XCP's XCCs), `pci`,
   * `hiveId` and `memoryKind` the physical device's. Absent: the device is one node (no partitioning).
   */
  partition?: GpuPartition;
}

/** AMDGPU_{SPX,DPX,TPX,QPX,CPX}_PARTITION_MODE: XCCs per XCP = all, 1/2, 1/3, 1/4, one. */
export type ComputePartitionMode = 'SPX' | 'DPX' | 'TPX' | 'QPX' | 'CPX';
/** AMDGPU_NPS{1,2,4}_PARTITION_MODE: the HBM split into 1, 2 or 4 memory partitions (NUMA-like ranges). */
export type MemoryPartitionMode = 'NPS1' | 'NPS2' | 'NPS4';

/** One XCP of a physical device, as amdgpu_xcp.c and aqua_vanjaram.c set it up. */
export interface GpuPartition {
  /** Which physical device (adev) of the profile this node belongs to: equal for its XCPs, 0-based. */
  device: number;
  computeMode: ComputePartitionMode;
  memoryMode: MemoryPartitionMode;
  /** xcp->id, which is also the kfd_node's node_id within the device. */
  xcpId: number;
  /** kfd->num_nodes: the device's XCP count. */
  xcpCount: number;
  /** xcp->mem_id: the memory partition (mem_partitions[]) this XCP's VRAM BOs are placed in. */
  memId: number;
  /** adev->gmc.num_mem_partitions. */
  memPartitionCount: number;
  /** adev->gmc.mem_partitions[mem_id].size in bytes. */
  memPartitionBytes: number;
  /** adev->gmc.real_vram_size: the whole device's VRAM in bytes. */
  deviceVramBytes: number;
}

export interface CpuDescription {
  /**
   * Model name as /proc/cpuinfo shows it, e.g. 'AMD EPYC 7A53 64-Core Processor'. Not in the KFD topology:
   * kfd_topology.c only names GPU nodes (the ASIC name); a CPU node's `name` file is empty.
   */
  name: string;
  cores: number;
  /** System memory attached to this node, bytes. */
  memoryBytes: number;
  /** Optional details for the topology generator; defaults are derived. */
  /** Hardware threads per core (cpu_cores_count counts logical CPUs); default 2. */
  threadsPerCore?: number;
  /** The mem bank size_in_bytes (the node's zone managed pages); default estimated from memoryBytes. */
  managedBytes?: number;
  /** SMBIOS memory device total width and speed (MT/s), which KFD copies into the CPU mem bank. */
  dmiMemory?: { width: number; speedMts: number };
  /** cpufreq max in MHz (max_engine_clk_ccompute); 0 when there is no cpufreq driver (VMs). */
  maxClockMhz?: number;
}

export interface MachineProfile {
  /** Profile id: 'mi250x', 'mi210', 'mi300a', 'mi300x', 'mi300x-dpx', 'mi300x-cpx-nps4', 'cpu-only'. */
  id: string;
  description: string;
  kfdVersion: { major: number; minor: number };
  cpus: CpuDescription[];
  gpus: GpuDescription[];
  /** The process's XNACK mode at open (HSA_XNACK unset): the kernel's default for these GPUs. */
  xnackDefault: boolean;
  /** ACPI OEM ids the kernel copies into system_properties (platform_id / platform_oem / platform_rev). */
  platform?: { oemId: string; oemTableId: string; oemRevision: number };
  /** The physical memory map the iomem generator lays out: an x86-64 server's, or QEMU q35 + SeaBIOS. */
  firmware?: 'server' | 'qemu-q35';
}
