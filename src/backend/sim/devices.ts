/**
 * The GPUs of the simulated process, as the kernel knows them: one kfd_process_device (pdd) per GPU of the
 * machine, in topology order (kfd_create_process_device_data runs for every device at process creation,
 * kfd_flat_memory.c: kfd_init_apertures), each with the rules the driver derives from the hardware.
 */
import type { DeviceMemoryKind, GpuDescription, MachineProfile } from '../../platform/profile-types.js';
import { xcpMemorySize } from '../../platform/partitions.js';
import { PAGE_SHIFT } from '../abi.js';

/** At most this many GPUs fit the 32-bit access bitmaps the model keeps (the kernel's MAX_GPU_INSTANCE is 64). */
export const SIM_MAX_GPUS = 31;

export interface SimGpu {
  /** gpuidx: the pdd index (kfd_process_gpuidx_from_gpuid). */
  readonly idx: number;
  readonly gpuId: number;
  readonly desc: GpuDescription;
  readonly kind: DeviceMemoryKind;
  /** KFD_IS_SVM_API_SUPPORTED: a pgmap was registered (coherent/private) or the part is an APU. */
  readonly svmSupported: boolean;
  readonly isApu: boolean;
  /** Pages of VRAM SVM may migrate into (0 on an APU: KFD_IS_APU parts have no pgmap). */
  readonly vramPages: number;
  /**
   * The largest range that may move here, in pages: amdgpu_amdkfd_reserve_mem_limit's bound for one range
   * (svm_migrate_ram_to_vram reserves the whole range for the migration and releases it after), which is
   * the node's VRAM less the page-table reserve, not aligned (vramPages is 2 MiB aligned, as
   * AVAILABLE_MEMORY answers).
   */
  readonly reservePages: number;
  /** AMDKFD_IOC_AVAILABLE_MEMORY's answer in bytes (amdgpu_amdkfd_get_available_memory). */
  readonly availableBytes: bigint;
  /**
   * The physical device (adev) this node is on: the nodes of a partitioned device share it; every other
   * GPU has its own. svm_nodes_in_same_hive compares adevs.
   */
  readonly device: number;
  /**
   * The VRAM pool TTM places this node's SVM BOs in and evicts from: the node's memory partition
   * (amdgpu_bo_placement_from_domain: fpfn/lpfn of mem_partitions[xcp->mem_id]), shared by the XCPs of
   * that partition; for an unpartitioned GPU, its own VRAM. Equal ids = one pool.
   */
  readonly memPool: number;
  /**
   * Pages of that pool SVM BOs may fill, on the same terms as vramPages (less the page-table reserve,
   * 2 MiB aligned): for an unpartitioned GPU it equals vramPages; for a partition node it is its memory
   * partition's, which the other XCPs of that partition fill too. (A divergence, on purpose: TTM's pool is
   * the whole partition, but VRAM also holds page tables and other BOs the model does not make; taking the
   * page-table estimate off stands in for them.)
   */
  readonly memPoolPages: number;
}

/**
 * The node's VRAM as KFD sees it (KFD_XCP_MEMORY_SIZE): amdgpu_amdkfd_xcp_memory_size for a partition node,
 * the device's VRAM otherwise.
 */
export function nodeVramBytes(desc: GpuDescription): number {
  return desc.partition ? xcpMemorySize(desc.partition) : desc.vramBytes;
}

const MiB = 1n << 20n;
/** amdgpu_amdkfd_gpuvm.c: VRAM_AVAILABLITY_ALIGN. */
const VRAM_AVAILABILITY_ALIGN = 2n * MiB;
/** amdgpu_vm.h: AMDGPU_VM_RESERVED_VRAM, the floor of ESTIMATE_PT_SIZE. */
const AMDGPU_VM_RESERVED_VRAM = 8n * MiB;

export function buildGpus(profile: MachineProfile): SimGpu[] {
  if (profile.gpus.length > SIM_MAX_GPUS) {
    throw new RangeError(`profile ${profile.id}: the simulator models at most ${SIM_MAX_GPUS} GPUs`);
  }
  // amdgpu_amdkfd.c: amdgpu_amdkfd_total_mem_size = system RAM + every dGPU's real_vram_size (once per
  // adev, however many KFD nodes it has); the page-table reserve is ESTIMATE_PT_SIZE(total) =
  // max(total >> 14, AMDGPU_VM_RESERVED_VRAM), taken from every node's VRAM alike.
  const devices = physicalDevices(profile);
  let total = 0n;
  for (const c of profile.cpus) total += BigInt(c.memoryBytes);
  for (const d of devices.first) if (d.memoryKind !== 'apu') total += BigInt(d.partition?.deviceVramBytes ?? d.vramBytes);
  const reservedForPt = total >> 14n > AMDGPU_VM_RESERVED_VRAM ? total >> 14n : AMDGPU_VM_RESERVED_VRAM;
  const seen = new Set<number>();
  const pools = new Map<string, number>();
  return profile.gpus.map((desc, idx) => {
    if (!Number.isInteger(desc.gpuId) || desc.gpuId <= 0 || desc.gpuId > 0xffffffff || desc.gpuId === 0xffffffff) {
      throw new RangeError(`profile ${profile.id}: gpu_id ${desc.gpuId} is not a valid non-zero u32`);
    }
    if (seen.has(desc.gpuId)) throw new RangeError(`profile ${profile.id}: duplicate gpu_id 0x${desc.gpuId.toString(16)}`);
    seen.add(desc.gpuId);
    const isApu = desc.memoryKind === 'apu';
    const vram = nodeVramBytes(desc);
    // The topology shows vramBytes as the node's mem bank; a partition whose bank is not the kernel's
    // amdgpu_amdkfd_xcp_memory_size describes no machine the driver makes.
    if (desc.vramBytes !== vram) {
      throw new RangeError(`profile ${profile.id}: gpu_id 0x${desc.gpuId.toString(16)} is XCP ` +
        `${desc.partition!.xcpId} of a ${desc.partition!.computeMode}/${desc.partition!.memoryMode} device: its VRAM ` +
        `is ${vram} bytes (amdgpu_amdkfd_xcp_memory_size), not ${desc.vramBytes}`);
    }
    const device = devices.index[idx]!;
    const poolKey = desc.partition ? `${device}/${desc.partition.memId}` : `${device}`;
    let memPool = pools.get(poolKey);
    if (memPool === undefined) pools.set(poolKey, (memPool = pools.size));
    const poolBytes = desc.partition ? desc.partition.memPartitionBytes : desc.vramBytes;
    // amdgpu_amdkfd_get_available_memory: dGPUs align down to 2 MiB, APUs to a page.
    const align = isApu ? BigInt(1 << PAGE_SHIFT) : VRAM_AVAILABILITY_ALIGN;
    const usable = (bytes: number): bigint => {
      let v = BigInt(bytes) - reservedForPt;
      if (v < 0n) v = 0n;
      return v - (v % align);
    };
    const available = usable(vram);
    const reserveBytes = BigInt(vram) - reservedForPt;
    return {
      idx,
      gpuId: desc.gpuId,
      desc,
      kind: desc.memoryKind,
      svmSupported: desc.svmSupported,
      isApu,
      vramPages: isApu ? 0 : Number(available >> BigInt(PAGE_SHIFT)),
      reservePages: isApu || reserveBytes < 0n ? 0 : Number(reserveBytes >> BigInt(PAGE_SHIFT)),
      availableBytes: available,
      device,
      memPool,
      memPoolPages: isApu ? 0 : Number(usable(poolBytes) >> BigInt(PAGE_SHIFT)),
    };
  });
}

/**
 * The physical devices of a profile: `index[i]` is GPU entry i's device number (the nodes of one
 * partitioned device share it), `first` one entry per device.
 */
function physicalDevices(profile: MachineProfile): { index: number[]; first: GpuDescription[] } {
  const byPartitionDevice = new Map<number, number>();
  const first: GpuDescription[] = [];
  const index = profile.gpus.map((g) => {
    if (g.partition) {
      const known = byPartitionDevice.get(g.partition.device);
      if (known !== undefined) return known;
      byPartitionDevice.set(g.partition.device, first.length);
    }
    first.push(g);
    return first.length - 1;
  });
  return { index, first };
}

/**
 * kfd_svm.c: svm_nodes_in_same_hive: the same adev (two partitions of one device are, whatever their
 * hive ids), or amdgpu_xgmi_same_hive: different adevs with equal non-zero xGMI hive ids.
 */
export function sameHive(a: SimGpu, b: SimGpu): boolean {
  return a === b || a.device === b.device || (a.desc.hiveId !== 0n && a.desc.hiveId === b.desc.hiveId);
}

/**
 * kfd_svm.c: svm_range_set_max_pages. New ranges are cut at multiples of this many pages:
 * per GPU, (memory >> 17) clamped to [2^9, 2^18] and rounded down to a power of two; the minimum wins.
 * With no GPU the kernel never sets it (0); no SET can succeed then anyway.
 */
export function maxSvmRangePages(gpus: readonly SimGpu[]): number {
  let min = 0;
  for (const g of gpus) {
    // KFD_XCP_MEMORY_SIZE(adev, xcp id) per node: a partition's share, not the device's VRAM.
    let pages = Math.floor(nodeVramBytes(g.desc) / 2 ** 17);
    pages = Math.min(Math.max(pages, 2 ** 9), 2 ** 18);
    pages = 2 ** Math.floor(Math.log2(pages));
    if (min === 0 || pages < min) min = pages;
  }
  return min;
}

/** amdgpu_amdkfd_gpuvm.c: AMDGPU_RESERVE_MEM_LIMIT. */
const AMDGPU_RESERVE_MEM_LIMIT = 3 * 2 ** 29;

/**
 * amdgpu_amdkfd_gpuvm_init_mem_limits: the system memory KFD lets processes pin or, for SVM with XNACK
 * off, register: RAM less 1/64, then less 1.5 GiB (or halved on small machines).
 */
export function systemMemLimit(profile: MachineProfile): number {
  const mem = profile.cpus.reduce((s, c) => s + c.memoryBytes, 0);
  let limit = mem - Math.floor(mem / 64);
  if (limit < 2 * AMDGPU_RESERVE_MEM_LIMIT) limit = Math.floor(limit / 2);
  else limit -= AMDGPU_RESERVE_MEM_LIMIT;
  return limit;
}

/**
 * kfd_migrate.c: kgd2kfd_init_zone_device reserves system memory for the struct pages of the VRAM it
 * registers with HMM (SVM_HMM_PAGE_STRUCT_SIZE: 64 bytes per 4 KiB page), for every non-APU GPU: once
 * per adev, over its whole real_vram_size (the KFD nodes of a partitioned device share one pgmap).
 */
export function hmmPageStructBytes(gpus: readonly SimGpu[]): number {
  let total = 0;
  const counted = new Set<number>();
  for (const g of gpus) {
    if (g.isApu || !g.svmSupported || counted.has(g.device)) continue;
    counted.add(g.device);
    const vram = g.desc.partition?.deviceVramBytes ?? g.desc.vramBytes;
    const size = Math.ceil(vram / (2 * 1024 * 1024)) * 2 * 1024 * 1024;
    total += (size / 4096) * 64;
  }
  return total;
}
