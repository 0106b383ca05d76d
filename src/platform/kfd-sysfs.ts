/**
 * The numbers of include/uapi/linux/kfd_sysfs.h (Linux 6.12), decoded by name.
 */

/** Single-bit capability flags of a node's `capability` property (HSA_CAP_*). */
export const HSA_CAP = {
  HOT_PLUGGABLE: 0x00000001,
  ATS_PRESENT: 0x00000002,
  SHARED_WITH_GRAPHICS: 0x00000004,
  QUEUE_SIZE_POW2: 0x00000008,
  QUEUE_SIZE_32BIT: 0x00000010,
  QUEUE_IDLE_EVENT: 0x00000020,
  VA_LIMIT: 0x00000040,
  WATCH_POINTS_SUPPORTED: 0x00000080,
  AQL_QUEUE_DOUBLE_MAP: 0x00004000,
  TRAP_DEBUG_SUPPORT: 0x00008000,
  TRAP_DEBUG_WAVE_LAUNCH_TRAP_OVERRIDE_SUPPORTED: 0x00010000,
  TRAP_DEBUG_WAVE_LAUNCH_MODE_SUPPORTED: 0x00020000,
  TRAP_DEBUG_PRECISE_MEMORY_OPERATIONS_SUPPORTED: 0x00040000,
  RESERVED_WAS_SRAM_EDCSUPPORTED: 0x00080000,
  MEM_EDCSUPPORTED: 0x00100000,
  RASEVENTNOTIFY: 0x00200000,
  SRAM_EDCSUPPORTED: 0x04000000,
  SVMAPI_SUPPORTED: 0x08000000,
  FLAGS_COHERENTHOSTACCESS: 0x10000000,
  TRAP_DEBUG_FIRMWARE_SUPPORTED: 0x20000000,
  TRAP_DEBUG_PRECISE_ALU_OPERATIONS_SUPPORTED: 0x40000000,
} as const;
export type HsaCapName = keyof typeof HSA_CAP;

const WATCH_POINTS_TOTALBITS_MASK = 0x00000f00;
const WATCH_POINTS_TOTALBITS_SHIFT = 8;
const DOORBELL_TYPE_TOTALBITS_MASK = 0x00003000;
const DOORBELL_TYPE_TOTALBITS_SHIFT = 12;
const ASIC_REVISION_MASK = 0x03c00000;
const ASIC_REVISION_SHIFT = 22;

export interface Capability {
  /** The raw u32. */
  value: number;
  /** The single-bit HSA_CAP_* flags that are set, by name. */
  flags: HsaCapName[];
  /** HSA_CAP_SVMAPI_SUPPORTED: the GPU takes part in SVM (a pgmap was registered, or it is an APU). */
  svmApiSupported: boolean;
  /** HSA_CAP_FLAGS_COHERENTHOSTACCESS: the CPU reaches GPU memory coherently (xGMI to CPU, or APU). */
  coherentHostAccess: boolean;
  /** Bits 8..11: log2 of the number of watch points. */
  watchPointsTotalBits: number;
  /** Bits 12..13: HSA_CAP_DOORBELL_TYPE_PRE_1_0 (0), 1_0 (1), 2_0 (2). */
  doorbellType: number;
  /** Bits 22..25: the PCI revision id. */
  asicRevision: number;
  /** Bits the header does not name (field bits excluded). */
  unknownBits: number;
}

export function decodeCapability(value: number): Capability {
  const v = value >>> 0;
  const flags: HsaCapName[] = [];
  let known = WATCH_POINTS_TOTALBITS_MASK | DOORBELL_TYPE_TOTALBITS_MASK | ASIC_REVISION_MASK;
  for (const [name, bit] of Object.entries(HSA_CAP) as [HsaCapName, number][]) {
    known |= bit;
    if (v & bit) flags.push(name);
  }
  return {
    value: v,
    flags,
    svmApiSupported: (v & HSA_CAP.SVMAPI_SUPPORTED) !== 0,
    coherentHostAccess: (v & HSA_CAP.FLAGS_COHERENTHOSTACCESS) !== 0,
    watchPointsTotalBits: (v & WATCH_POINTS_TOTALBITS_MASK) >>> WATCH_POINTS_TOTALBITS_SHIFT,
    doorbellType: (v & DOORBELL_TYPE_TOTALBITS_MASK) >>> DOORBELL_TYPE_TOTALBITS_SHIFT,
    asicRevision: (v & ASIC_REVISION_MASK) >>> ASIC_REVISION_SHIFT,
    unknownBits: (v & ~known) >>> 0,
  };
}

/** HSA_MEM_HEAP_TYPE_*. */
export const HEAP_TYPES = ['system', 'fb-public', 'fb-private', 'gpu-gds', 'gpu-lds', 'gpu-scratch'] as const;
export type HeapTypeName = (typeof HEAP_TYPES)[number];

/** HSA_IOLINK_TYPE_*, by value. */
export const IOLINK_TYPES: Readonly<Record<number, string>> = {
  0: 'undefined',
  1: 'hypertransport',
  2: 'pcie',
  3: 'amba',
  4: 'mipi',
  5: 'qpi-1.1',
  8: 'rapidio',
  9: 'infiniband',
  11: 'xgmi',
  12: 'xgop',
  13: 'gz',
  14: 'ethernet-rdma',
  15: 'rdma-other',
  16: 'other',
};

/** HSA_IOLINK_FLAGS_*. */
export interface IoLinkFlags {
  enabled: boolean;
  nonCoherent: boolean;
  noAtomics32Bit: boolean;
  noAtomics64Bit: boolean;
  noPeerToPeerDma: boolean;
}

export function decodeIoLinkFlags(v: number): IoLinkFlags {
  return {
    enabled: (v & 1) !== 0,
    nonCoherent: (v & 2) !== 0,
    noAtomics32Bit: (v & 4) !== 0,
    noAtomics64Bit: (v & 8) !== 0,
    noPeerToPeerDma: (v & 16) !== 0,
  };
}

export type CacheTypeName = 'data' | 'instruction' | 'cpu' | 'hsacu';
const cacheTypeNames = new Map<number, readonly CacheTypeName[]>();

/** HSA_CACHE_TYPE_* names set in a cache's `type` (one shared frozen array per value: GPUs have hundreds). */
export function decodeCacheType(v: number): readonly CacheTypeName[] {
  let names = cacheTypeNames.get(v);
  if (!names) {
    names = Object.freeze(cacheTypeList(v));
    if (cacheTypeNames.size < 64) cacheTypeNames.set(v, names);
  }
  return names;
}

function cacheTypeList(v: number): CacheTypeName[] {
  const out: CacheTypeName[] = [];
  if (v & 1) out.push('data');
  if (v & 2) out.push('instruction');
  if (v & 4) out.push('cpu');
  if (v & 8) out.push('hsacu');
  return out;
}
