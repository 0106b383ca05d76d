/**
 * Per-ASIC facts the profile generator needs to write a topology node the way the 6.12 driver does, and
 * the small pieces of kernel arithmetic it repeats (gfx target naming, the gpu_id hash, the CWSR sizes).
 * Kept apart from the profiles so a caller-built MachineProfile with any gfx target still generates.
 */

/**
 * The ISA name ROCm derives from `gfx_target_version` (major*10000 + minor*100 + stepping, written in
 * decimal by kfd_device.c): `gfx` + major in decimal + minor and stepping each as one hex digit. 90010 →
 * gfx90a, 90402 → gfx942, 100300 → gfx1030, 110501 → gfx1151. A minor or stepping above 15 cannot be
 * written as one digit; it is then written in full hex, which no real target has.
 */
export function gfxTargetName(gfxTargetVersion: number): string {
  const major = Math.floor(gfxTargetVersion / 10000);
  const minor = Math.floor(gfxTargetVersion / 100) % 100;
  const stepping = gfxTargetVersion % 100;
  return `gfx${major}${minor.toString(16)}${stepping.toString(16)}`;
}

/**
 * The GC IP version behind a gfx_target_version, for the rules the kernel keys on IP versions
 * (kfd_device.c: kfd_device_info_set... maps IP → target; this is the reverse for the targets we know).
 */
export function gcIpVersion(gfxTargetVersion: number): [number, number, number] | undefined {
  switch (gfxTargetVersion) {
    case 90010:
      return [9, 4, 2];
    case 90400:
    case 90401:
    case 90402:
      return [9, 4, 3];
    default:
      return undefined;
  }
}

/**
 * Whether a GPU supports per-process XNACK (retry) mode: kfd_priv.h KFD_SUPPORT_XNACK_PER_PROCESS, GC
 * 9.4.2 (gfx90a), 9.4.3 and 9.4.4 (gfx940/941/942). The KFD topology has NO capability bit for XNACK
 * (kfd_sysfs.h defines none); the kernel decides per process in kfd_process_xnack_mode(), and userspace
 * learns the outcome from AMDKFD_IOC_SET_XNACK_MODE. So the topology parser derives this from the target.
 */
export function supportsPerProcessXnack(gfxTargetVersion: number): boolean {
  return gfxTargetVersion === 90010 || gfxTargetVersion === 90400 || gfxTargetVersion === 90401 ||
    gfxTargetVersion === 90402;
}

/** The hardware shape the kernel reads from the gfx config (max_shader_engines, max_sh_per_se, ...). */
export interface AsicInfo {
  /** amdgpu_asic_name[] lowercased: what kfd_topology_add_device writes as the node `name`. */
  asicName: string;
  /** Per XCC. */
  shaderEngines: number;
  shPerSe: number;
  maxCuPerSh: number;
  simdPerCu: number;
  maxWavesPerSimd: number;
  waveFrontSize: number;
  ldsSizeKb: number;
  maxSlotsScratchCu: number;
  numGws: number;
  numSdmaEngines: number;
  numSdmaXgmiEngines: number;
  numSdmaQueuesPerEngine: number;
  numCpQueues: number;
  maxEngineClkMhz: number;
  /** mem_clk_max of the VRAM bank (amdgpu_dpm_get_mclk / 100). */
  memClkMaxMhz: number;
  vramWidth: number;
  mecFwVersion: number;
  sdmaFwVersion: number;
  /** PCI revision id, shifted into capability bits 22..25 (HSA_CAP_ASIC_REVISION). */
  revId: number;
  /** kfd_crat.c cache tables: aldebaran_cache_info, or the gfx_config_v2 values for GC 9.4.3. */
  caches: GpuCacheInfo[];
}

export interface GpuCacheInfo {
  sizeKb: number;
  level: number;
  lineSize: number;
  /** HSA_CACHE_TYPE_* bits as the topology writes them. */
  type: number;
  numCuShared: number;
}

const HSA_CACHE_DATA = 0x1;
const HSA_CACHE_INST = 0x2;
const HSA_CACHE_HSACU = 0x8;

/** kfd_crat.c aldebaran_cache_info[] (GC 9.4.2). */
const ALDEBARAN_CACHES: GpuCacheInfo[] = [
  { sizeKb: 16, level: 1, lineSize: 64, type: HSA_CACHE_DATA | HSA_CACHE_HSACU, numCuShared: 1 },
  { sizeKb: 32, level: 1, lineSize: 64, type: HSA_CACHE_INST | HSA_CACHE_HSACU, numCuShared: 2 },
  { sizeKb: 16, level: 1, lineSize: 64, type: HSA_CACHE_DATA | HSA_CACHE_HSACU, numCuShared: 2 },
  { sizeKb: 8192, level: 2, lineSize: 128, type: HSA_CACHE_DATA | HSA_CACHE_HSACU, numCuShared: 14 },
];

/**
 * kfd_fill_gpu_cache_info_from_gfx_config_v2 (GC 9.4.3): TCP 16 KiB per CU (line 128), SQC I$ 64 KiB and
 * K$ 16 KiB per 2 CUs, L2 4 MiB per XCC, MALL (L3, "Infinity Cache") 256 MiB per device.
 */
const GC943_CACHES: GpuCacheInfo[] = [
  { sizeKb: 16, level: 1, lineSize: 128, type: HSA_CACHE_DATA | HSA_CACHE_HSACU, numCuShared: 1 },
  { sizeKb: 64, level: 1, lineSize: 64, type: HSA_CACHE_INST | HSA_CACHE_HSACU, numCuShared: 2 },
  { sizeKb: 16, level: 1, lineSize: 64, type: HSA_CACHE_DATA | HSA_CACHE_HSACU, numCuShared: 2 },
  { sizeKb: 4096, level: 2, lineSize: 128, type: HSA_CACHE_DATA | HSA_CACHE_HSACU, numCuShared: 10 },
  { sizeKb: 262144, level: 3, lineSize: 64, type: HSA_CACHE_DATA | HSA_CACHE_HSACU, numCuShared: 10 },
];

const GFX90A: AsicInfo = {
  asicName: 'aldebaran',
  shaderEngines: 8,
  shPerSe: 1,
  maxCuPerSh: 16,
  simdPerCu: 4,
  maxWavesPerSimd: 8,
  waveFrontSize: 64,
  ldsSizeKb: 64,
  maxSlotsScratchCu: 32,
  numGws: 64,
  numSdmaEngines: 2,
  numSdmaXgmiEngines: 3,
  numSdmaQueuesPerEngine: 8,
  numCpQueues: 24,
  maxEngineClkMhz: 1700,
  memClkMaxMhz: 1600,
  vramWidth: 4096,
  mecFwVersion: 78,
  sdmaFwVersion: 8,
  revId: 1,
  caches: ALDEBARAN_CACHES,
};

const GFX942: AsicInfo = {
  // MI300 parts are CHIP_IP_DISCOVERY: amdgpu_asic_name[] says "IP DISCOVERY", lowercased by KFD.
  asicName: 'ip discovery',
  shaderEngines: 4,
  shPerSe: 1,
  maxCuPerSh: 10,
  simdPerCu: 4,
  maxWavesPerSimd: 8,
  waveFrontSize: 64,
  ldsSizeKb: 64,
  maxSlotsScratchCu: 32,
  numGws: 64,
  numSdmaEngines: 2,
  numSdmaXgmiEngines: 14,
  numSdmaQueuesPerEngine: 8,
  numCpQueues: 24,
  maxEngineClkMhz: 2100,
  memClkMaxMhz: 1300,
  vramWidth: 8192,
  mecFwVersion: 155,
  sdmaFwVersion: 19,
  revId: 1,
  caches: GC943_CACHES,
};

/** A generic GFX9 shape for targets without a table here (caller-built profiles). */
const GENERIC: AsicInfo = { ...GFX90A, asicName: 'ip discovery' };

export function asicInfo(gfxTargetVersion: number): AsicInfo {
  if (gfxTargetVersion === 90010) return GFX90A;
  if (Math.floor(gfxTargetVersion / 100) === 904) return GFX942;
  return GENERIC;
}

/**
 * lib/crc16.c: CRC-16 (polynomial 0x8005, bit-reversed 0xA001), as kfd_generate_gpu_id uses it.
 */
export function crc16(crc: number, bytes: Uint8Array): number {
  let c = crc & 0xffff;
  for (const b of bytes) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
  }
  return c & 0xffff;
}

export interface GpuIdInputs {
  devfn: number;
  subsystemVendor: number;
  subsystemDevice: number;
  domain: number;
  deviceId: number;
  bus: number;
  localMemSize: bigint;
  /** ffs(xcc_mask) - 1 */
  firstXcc: number;
  numXcc: number;
}

/**
 * kfd_topology.c kfd_generate_gpu_id: crc16 over eight u32 (little endian), masked to
 * KFD_GPU_ID_HASH_WIDTH (16) bits; 0 becomes 1 and collisions step up by one (`taken`).
 */
export function kfdGpuId(inp: GpuIdInputs, taken: ReadonlySet<number> = new Set()): number {
  const words = [
    inp.devfn,
    (inp.subsystemVendor | (inp.subsystemDevice << 16)) >>> 0,
    inp.domain,
    inp.deviceId,
    inp.bus,
    Number(inp.localMemSize & 0xffffffffn),
    Number((inp.localMemSize >> 32n) & 0xffffffffn),
    (inp.firstXcc | (inp.numXcc << 16)) >>> 0,
  ];
  const buf = new Uint8Array(32);
  const view = new DataView(buf.buffer);
  words.forEach((w, i) => view.setUint32(i * 4, w >>> 0, true));
  let id = crc16(0, buf) & 0xffff;
  for (;;) {
    if (id === 0) id = 1;
    if (!taken.has(id)) return id;
    id = (id + 1) & 0xffff;
  }
}

/**
 * kfd_queue.c kfd_queue_ctx_save_restore_size: the `ctl_stack_size` and `cwsr_size` the node reports.
 */
export function cwsrSizes(gfxv: number, simdCount: number, simdPerCu: number, numXcc: number,
  arrayCount: number, simdArraysPerEngine: number): { ctlStackSize: number; cwsrSize: number } {
  if (gfxv < 80001 || simdPerCu === 0 || numXcc === 0) return { ctlStackSize: 0, cwsrSize: 0 };
  const align = (v: number, a: number): number => Math.ceil(v / a) * a;
  const cuNum = Math.floor(simdCount / simdPerCu / numXcc);
  const waveNum = gfxv < 100100
    ? Math.min(cuNum * 40, Math.floor(arrayCount / simdArraysPerEngine) * 512)
    : cuNum * 32;
  let vgpr = 0x40000;
  if (Math.floor(gfxv / 100) * 100 === 90400 || gfxv === 90010 || gfxv === 90008) vgpr = 0x80000;
  else if ([110000, 110001, 110501, 120000, 120001].includes(gfxv)) vgpr = 0x60000;
  const wgDataSize = align(cuNum * (vgpr + 0x4000 + 0x10000 + 0x1000), 4096);
  let ctl = waveNum * (gfxv >= 100100 ? 12 : 8) + 8;
  ctl = align(40 + ctl, 4096);
  if (Math.floor(gfxv / 10000) * 10000 === 100000) ctl = Math.min(ctl, 0x7000);
  return { ctlStackSize: ctl, cwsrSize: ctl + wgDataSize };
}
