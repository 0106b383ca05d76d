/**
 * Spatial partitioning of a GC 9.4.3 device (MI300X) as the 6.12 driver sets it up: the compute partition
 * mode splits the XCCs into XCPs (aqua_vanjaram.c), the memory partition mode splits the HBM into ranges
 * (gmc_v9_0.c), and KFD makes one kfd_node per XCP (kfd_device.c: kgd2kfd_device_init) whose VRAM is its
 * share of its memory partition (amdgpu_amdkfd.c: amdgpu_amdkfd_xcp_memory_size).
 */
import type { ComputePartitionMode, GpuPartition, MemoryPartitionMode } from './profile-types.js';

const PAGE_SIZE = 4096;
/** AMDGPU_GPU_PAGE_SHIFT: mem_partitions[] ranges are in 4 KiB GPU pages. */
const GPU_PAGE = 4096;
const SZ_16M = 16 * 1024 * 1024;

/** aqua_vanjaram.c: __aqua_vanjaram_get_xcc_per_xcp. */
export function xccPerXcp(mode: ComputePartitionMode, numXcc: number): number {
  switch (mode) {
    case 'SPX':
      return numXcc;
    case 'DPX':
      return Math.floor(numXcc / 2);
    case 'TPX':
      return Math.floor(numXcc / 3);
    case 'QPX':
      return Math.floor(numXcc / 4);
    case 'CPX':
      return 1;
  }
}

/** gmc_v9_0_init_sw_mem_ranges: adev->gmc.num_mem_partitions of a dGPU (NPS4 is 3 on an APU, 4 here). */
export function memPartitionCount(mode: MemoryPartitionMode): number {
  return mode === 'NPS1' ? 1 : mode === 'NPS2' ? 2 : 4;
}

/** aqua_vanjaram.c: __aqua_vanjaram_is_valid_mode (which compute mode a memory mode allows). */
export function isValidPartitionMode(mode: ComputePartitionMode, numMemPartitions: number, numXcc: number): boolean {
  switch (mode) {
    case 'SPX':
      return numMemPartitions === 1 && numXcc > 0;
    case 'DPX':
      return numMemPartitions <= 2 && numXcc % 4 === 0;
    case 'TPX':
      return (numMemPartitions === 1 || numMemPartitions === 3) && numXcc % 3 === 0;
    case 'QPX':
      return (numMemPartitions === 1 || numMemPartitions === 4) && Math.floor(numXcc / 4) >= 2;
    case 'CPX':
      return numXcc > 1 && (numMemPartitions === 1 || numMemPartitions === 4) && numXcc % numMemPartitions === 0;
  }
}

/**
 * gmc_v9_0_init_sw_mem_ranges (the software fallback): each range is (real_vram_size + 16 MiB) / count
 * GPU pages, and the last one ends at real_vram_size. The 16 MiB is what the firmware keeps off the top
 * of an MI300X's 192 GiB (RCC_CONFIG_MEMSIZE reports 196592 MiB), so NPS4 gives 48 GiB × 3 + 48 GiB − 16 MiB.
 */
export function memPartitionSizes(realVramBytes: number, count: number): number[] {
  const pages = Math.floor((realVramBytes + SZ_16M) / GPU_PAGE / count);
  const sizes: number[] = [];
  for (let i = 0; i < count - 1; i++) sizes.push(pages * GPU_PAGE);
  sizes.push(realVramBytes - (count - 1) * pages * GPU_PAGE);
  return sizes;
}

/** amdgpu_xcp.c: amdgpu_xcp_init: num_xcp_per_mem_partition = num_xcps / num_mem_partitions. */
export function xcpsPerMemPartition(p: Pick<GpuPartition, 'xcpCount' | 'memPartitionCount'>): number {
  return Math.floor(p.xcpCount / p.memPartitionCount);
}

/**
 * amdgpu_amdkfd_xcp_memory_size for a dGPU: the memory partition's size divided among the XCPs that share
 * it, aligned down to a page. This is the node's local_mem_size (its mem bank, its gpu_id hash input), the
 * VRAM amdgpu_amdkfd_reserve_mem_limit / amdgpu_amdkfd_get_available_memory count against, and what
 * svm_range_set_max_pages sizes ranges by.
 */
export function xcpMemorySize(p: Pick<GpuPartition, 'memPartitionBytes' | 'xcpCount' | 'memPartitionCount'>): number {
  const share = Math.floor(p.memPartitionBytes / xcpsPerMemPartition(p));
  return share - (share % PAGE_SIZE);
}

/** One XCP of a device: its partition record plus the XCC slice the topology reports. */
export interface XcpLayout {
  partition: GpuPartition;
  /** ffs(xcc_mask) - 1: the XCP's first XCC (XCP_INST_MASK: XCPs take consecutive XCCs). */
  firstXcc: number;
  /** NUM_XCC(xcc_mask). */
  numXcc: number;
  /** amdgpu_amdkfd_xcp_memory_size of this XCP. */
  vramBytes: number;
}

/**
 * The XCPs of one physical device in a compute × memory mode, in xcp id order (the order KFD adds their
 * nodes). A combination the driver refuses (__aqua_vanjaram_is_valid_mode) throws a RangeError.
 */
export function deviceXcps(device: number, computeMode: ComputePartitionMode, memoryMode: MemoryPartitionMode,
  numXcc: number, realVramBytes: number): XcpLayout[] {
  const memCount = memPartitionCount(memoryMode);
  if (!isValidPartitionMode(computeMode, memCount, numXcc)) {
    throw new RangeError(`${computeMode} with ${memoryMode} is not a mode the driver accepts for ${numXcc} XCCs ` +
      '(aqua_vanjaram.c: __aqua_vanjaram_is_valid_mode)');
  }
  const perXcp = xccPerXcp(computeMode, numXcc);
  const xcpCount = Math.floor(numXcc / perXcp);
  const perMem = Math.floor(xcpCount / memCount);
  const sizes = memPartitionSizes(realVramBytes, memCount);
  const out: XcpLayout[] = [];
  for (let xcpId = 0; xcpId < xcpCount; xcpId++) {
    const firstXcc = xcpId * perXcp;
    // aqua_vanjaram.c: __aqua_vanjaram_get_xcp_mem_id (one range: mem_id 0).
    const memId = memCount === 1 ? 0 : Math.floor(Math.floor(firstXcc / perXcp) / perMem);
    const partition: GpuPartition = {
      device, computeMode, memoryMode, xcpId, xcpCount, memId, memPartitionCount: memCount,
      memPartitionBytes: sizes[memId]!, deviceVramBytes: realVramBytes,
    };
    out.push({ partition, firstXcc, numXcc: perXcp, vramBytes: xcpMemorySize(partition) });
  }
  return out;
}
