import { getSystemErrorName } from 'node:util';

/**
 * The KFD kernel ABI as numbers, shared by the kfd backend (which passes them to the addon) and the
 * simulator (which answers them). Values are from include/uapi/linux/kfd_ioctl.h of Linux 6.12; the native
 * ABI header (native/kfd_abi.h) carries the same numbers with static_asserts, and a test compares both
 * against the system's <linux/kfd_ioctl.h>.
 */

/** `enum kfd_ioctl_svm_op`. */
export const SvmOp = { SET_ATTR: 0, GET_ATTR: 1 } as const;

/** `enum kfd_ioctl_svm_attr_type`. */
export const SvmAttrType = {
  PREFERRED_LOC: 0,
  PREFETCH_LOC: 1,
  ACCESS: 2,
  ACCESS_IN_PLACE: 3,
  NO_ACCESS: 4,
  SET_FLAGS: 5,
  CLR_FLAGS: 6,
  GRANULARITY: 7,
} as const;
export type SvmAttrTypeName = keyof typeof SvmAttrType;
export type SvmAttrTypeValue = (typeof SvmAttrType)[SvmAttrTypeName];

/** `KFD_IOCTL_SVM_FLAG_*`. */
export const SvmFlag = {
  HOST_ACCESS: 0x1,
  COHERENT: 0x2,
  HIVE_LOCAL: 0x4,
  GPU_RO: 0x8,
  GPU_EXEC: 0x10,
  GPU_READ_MOSTLY: 0x20,
  GPU_ALWAYS_MAPPED: 0x40,
  /** Extended coherence (ioctl 1.16+): the GPU maps the range with MTYPE_CC/UC for cross-device coherence. */
  EXT_COHERENT: 0x80,
} as const;
export type SvmFlagName = keyof typeof SvmFlag;
/** Every flag bit the 6.12 kernel defines. */
export const SVM_FLAGS_ALL = 0xff;

/** `KFD_IOCTL_SVM_LOCATION_*`: any other value is a gpu_id. */
export const SvmLocation = { SYSMEM: 0, UNDEFINED: 0xffffffff } as const;

/** Granularity is log2 of pages; the kernel stores min(value, 0x3f) (svm_range_apply_attrs). */
export const SVM_GRANULARITY_MAX = 0x3f;
/** The process default: min(svm_default_granularity, 0x1b), normally 9 = 2 MiB. */
export const SVM_DEFAULT_GRANULARITY = 9;

/** `enum kfd_smi_event`. */
export const SmiEvent = {
  NONE: 0,
  VMFAULT: 1,
  THERMAL_THROTTLE: 2,
  GPU_PRE_RESET: 3,
  GPU_POST_RESET: 4,
  MIGRATE_START: 5,
  MIGRATE_END: 6,
  PAGE_FAULT_START: 7,
  PAGE_FAULT_END: 8,
  QUEUE_EVICTION: 9,
  QUEUE_RESTORE: 10,
  UNMAP_FROM_GPU: 11,
  /** Bit 63 of the mask: events of every process; needs root (CAP_SYS_ADMIN). */
  ALL_PROCESS: 64,
} as const;
export type SmiEventName = Exclude<keyof typeof SmiEvent, 'NONE'>;

/** The mask bit for an event: `KFD_SMI_EVENT_MASK_FROM_INDEX(i) = 1ULL << (i - 1)`. */
export function smiEventMask(...events: number[]): bigint {
  let mask = 0n;
  for (const e of events) mask |= 1n << BigInt(e - 1);
  return mask;
}

/** `enum KFD_MIGRATE_TRIGGERS`. */
export const MigrateTrigger = { PREFETCH: 0, PAGEFAULT_GPU: 1, PAGEFAULT_CPU: 2, TTM_EVICTION: 3 } as const;
/** `enum KFD_QUEUE_EVICTION_TRIGGERS`. */
export const QueueEvictionTrigger = {
  SVM: 0,
  USERPTR: 1,
  TTM: 2,
  SUSPEND: 3,
  CRIU_CHECKPOINT: 4,
  CRIU_RESTORE: 5,
} as const;
/** `enum KFD_SVM_UNMAP_TRIGGERS`. */
export const UnmapTrigger = { MMU_NOTIFY: 0, MMU_NOTIFY_MIGRATE: 1, UNMAP_FROM_CPU: 2 } as const;

/** The kernel's page size on x86-64; every SVM start and size is a multiple of it. */
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

/** Errno values the KFD paths return (x86-64 Linux). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  ERANGE: 34,
  EOVERFLOW: 75,
} as const;
export type ErrnoName = keyof typeof Errno;

const errnoNames = new Map<number, string>(Object.entries(Errno).map(([k, v]) => [v, k]));
/** The symbolic name of an errno, as Node's `util.getSystemErrorName` would give it. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  const known = errnoNames.get(n);
  if (known) return known;
  // Errnos outside the KFD table (EISDIR from open(2), say): the platform's name, else 'E<n>'.
  const sys = n === 0 ? '' : getSystemErrorName(-n);
  return /^E[A-Z0-9]+$/.test(sys) ? sys : `E${n}`;
}
