/**
 * The API's attribute object ⇄ the kernel's `(type, value)` pairs (struct kfd_ioctl_svm_attribute).
 *
 * Encoding checks everything the kernel struct cannot represent, or the API would misread, before a
 * backend sees it (a gpu that is not the device's, a granularity that is not log2 of pages, an unknown
 * flag name) and throws SvmError 'EARG' / 'EUNKNOWNGPU'. What the kernel itself validates (a GPU without
 * SVM support, the range) is left to the kernel, whose answer comes back as its errno.
 */
import {
  SVM_FLAGS_ALL,
  SVM_GRANULARITY_MAX,
  SvmAttrType,
  SvmFlag,
  SvmLocation,
  type SvmFlagName,
} from './backend/abi.js';
import type { SvmAttribute } from './backend/contract.js';
import { SvmError } from './errors.js';
import { describe, resolveGpu, type Gpu, type GpuRef } from './gpu.js';

/**
 * Per-GPU access: 'access' (the GPU maps the range and may migrate it on fault), 'in-place' (maps it
 * where it is, no migration on GPU access), 'none' (not mapped for that GPU).
 */
export type AccessMode = 'access' | 'in-place' | 'none';

/** The SVM flags by name (KFD_IOCTL_SVM_FLAG_*). */
export type FlagName =
  | 'host-access'
  | 'coherent'
  | 'hive-local'
  | 'gpu-read-only'
  | 'gpu-exec'
  | 'gpu-read-mostly'
  | 'gpu-always-mapped'
  | 'ext-coherent';

/** Every flag name, in bit order. */
export const FLAG_NAMES: readonly FlagName[] = [
  'host-access',
  'coherent',
  'hive-local',
  'gpu-read-only',
  'gpu-exec',
  'gpu-read-mostly',
  'gpu-always-mapped',
  'ext-coherent',
];

const FLAG_BITS: Record<FlagName, number> = {
  'host-access': SvmFlag.HOST_ACCESS,
  coherent: SvmFlag.COHERENT,
  'hive-local': SvmFlag.HIVE_LOCAL,
  'gpu-read-only': SvmFlag.GPU_RO,
  'gpu-exec': SvmFlag.GPU_EXEC,
  'gpu-read-mostly': SvmFlag.GPU_READ_MOSTLY,
  'gpu-always-mapped': SvmFlag.GPU_ALWAYS_MAPPED,
  'ext-coherent': SvmFlag.EXT_COHERENT,
};

/** The kernel's bit for a flag name. */
export function flagBit(name: FlagName): number {
  return FLAG_BITS[name];
}
/** The flag names of the bits in a mask (bits the 6.12 kernel does not define are ignored). */
export function flagNames(mask: number): FlagName[] {
  return FLAG_NAMES.filter((n) => (mask & FLAG_BITS[n]) !== 0);
}
// Keep the names and the ABI table in step: every ABI flag has a name.
const _abiFlagCheck: Record<SvmFlagName, true> = {
  HOST_ACCESS: true,
  COHERENT: true,
  HIVE_LOCAL: true,
  GPU_RO: true,
  GPU_EXEC: true,
  GPU_READ_MOSTLY: true,
  GPU_ALWAYS_MAPPED: true,
  EXT_COHERENT: true,
};
void _abiFlagCheck;

/**
 * A location as the kernel answers it: system memory, a GPU, or 'undefined' (never set, or different
 * across the queried span).
 */
export type Location = 'system' | Gpu | 'undefined';

/** Per-GPU access to set: a Map or a list of `[gpu, mode]` pairs. */
export type AccessInput = ReadonlyMap<GpuRef, AccessMode> | ReadonlyArray<readonly [GpuRef, AccessMode]>;

/** What `SvmBuffer.set()` takes. Every field is optional; all present fields go in ONE kernel call. */
export interface SvmAttributes {
  /** Where the pages should live: 'system', a GPU, or 'undefined' (no preference, the default). */
  preferredLocation?: 'system' | 'undefined' | GpuRef;
  /** Migrate the pages now to 'system' or a GPU (the kernel accepts no 'undefined' here). */
  prefetchLocation?: 'system' | GpuRef;
  /** Per-GPU access. */
  access?: AccessInput;
  /** Flags to set (`true`) or clear (`false`); flags not named keep their value. */
  flags?: Partial<Record<FlagName, boolean>>;
  /**
   * Migration granularity as log2 of pages (9 = 512 pages = 2 MiB, the default), an integer 0..63. The
   * kernel stores min(value, 63) (svm_range_apply_attrs); the API refuses values above that, which are
   * almost always a byte count by mistake.
   */
  granularity?: number;
}

/** A flag's state over a span: set everywhere, clear everywhere, or different across the span. */
export type FlagState = boolean | 'mixed';

/** What `SvmBuffer.get()` answers: the kernel's attributes over the span, with its intersection rules. */
export interface SvmAttributeState {
  /** The common preferred location, or 'undefined' if unset anywhere or different across the span. */
  preferredLocation: Location;
  /**
   * The common prefetch location (the last prefetch asked for, not where pages are now), or 'undefined'.
   */
  prefetchLocation: Location;
  /**
   * Per GPU (by gpu_id): 'access' if every range grants access, else 'in-place' if every range grants at
   * least in-place access, else 'none'.
   */
  access: ReadonlyMap<number, AccessMode>;
  /** Each flag: true if set on every range of the span, false if clear on every one, else 'mixed'. */
  flags: Readonly<Record<FlagName, FlagState>>;
  /** The smallest granularity over the span (log2 of pages). */
  granularity: number;
  /** The kernel's answer as it came back, pair by pair. */
  raw: readonly SvmAttribute[];
}

const ACCESS_TYPES: Record<AccessMode, number> = {
  access: SvmAttrType.ACCESS,
  'in-place': SvmAttrType.ACCESS_IN_PLACE,
  none: SvmAttrType.NO_ACCESS,
};

function encodeLocation(
  gpus: readonly Gpu[],
  v: unknown,
  what: string,
  allowUndefined: boolean,
): number {
  if (v === 'system') return SvmLocation.SYSMEM;
  if (v === 'undefined') {
    if (allowUndefined) return SvmLocation.UNDEFINED;
    throw new SvmError('EARG', `${what}: 'undefined' is not a place to migrate to; use 'system' or a GPU`);
  }
  if (typeof v === 'string') {
    throw new SvmError(
      'EARG',
      `${what}: expected 'system'${allowUndefined ? ", 'undefined'" : ''} or a GPU, got ${describe(v)}`,
    );
  }
  return resolveGpu(gpus, v, what).gpuId;
}

function accessEntries(input: unknown): Array<readonly [unknown, unknown]> {
  if (input instanceof Map) return [...(input as Map<unknown, unknown>).entries()];
  if (Array.isArray(input)) {
    return input.map((pair: unknown, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new SvmError('EARG', `access[${i}]: expected a [gpu, mode] pair, got ${describe(pair)}`);
      }
      return [pair[0], pair[1]] as const;
    });
  }
  throw new SvmError('EARG', `access: expected a Map or an array of [gpu, mode] pairs, got ${describe(input)}`);
}

/**
 * Encodes the attribute object into the pairs of one SET_ATTR call. Order: preferred location, access,
 * flags set, flags cleared, granularity, prefetch last. (The kernel applies pairs in order and migrates
 * after applying all of them, svm_range_set_attr, so the order only matters for repeated types.)
 */
export function encodeSetAttributes(attrs: unknown, gpus: readonly Gpu[]): SvmAttribute[] {
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs)) {
    throw new SvmError('EARG', `set: expected an attribute object, got ${describe(attrs)}`);
  }
  const a = attrs as Record<string, unknown>;
  const known = new Set(['preferredLocation', 'prefetchLocation', 'access', 'flags', 'granularity']);
  for (const k of Object.keys(a)) {
    if (!known.has(k) && a[k] !== undefined) {
      throw new SvmError('EARG', `set: unknown attribute '${k}' (known: ${[...known].join(', ')})`);
    }
  }
  const out: SvmAttribute[] = [];
  if (a.preferredLocation !== undefined) {
    out.push({
      type: SvmAttrType.PREFERRED_LOC,
      value: encodeLocation(gpus, a.preferredLocation, 'preferredLocation', true),
    });
  }
  if (a.access !== undefined) {
    for (const [ref, mode] of accessEntries(a.access)) {
      const gpu = resolveGpu(gpus, ref, 'access');
      if (typeof mode !== 'string' || !Object.prototype.hasOwnProperty.call(ACCESS_TYPES, mode)) {
        throw new SvmError('EARG', `access for GPU ${gpu.gpuId}: expected 'access', 'in-place' or 'none', got ${describe(mode)}`);
      }
      out.push({ type: ACCESS_TYPES[mode as AccessMode], value: gpu.gpuId });
    }
  }
  if (a.flags !== undefined) {
    if (typeof a.flags !== 'object' || a.flags === null || Array.isArray(a.flags)) {
      throw new SvmError('EARG', `flags: expected an object of flag names to booleans, got ${describe(a.flags)}`);
    }
    let set = 0;
    let clear = 0;
    for (const [name, on] of Object.entries(a.flags as Record<string, unknown>)) {
      if (on === undefined) continue;
      if (!Object.prototype.hasOwnProperty.call(FLAG_BITS, name)) {
        throw new SvmError('EARG', `flags: unknown flag '${name}' (known: ${FLAG_NAMES.join(', ')})`);
      }
      if (typeof on !== 'boolean') {
        throw new SvmError('EARG', `flags.${name}: expected true or false, got ${describe(on)}`);
      }
      if (on) set |= FLAG_BITS[name as FlagName];
      else clear |= FLAG_BITS[name as FlagName];
    }
    if (set) out.push({ type: SvmAttrType.SET_FLAGS, value: set });
    if (clear) out.push({ type: SvmAttrType.CLR_FLAGS, value: clear });
  }
  if (a.granularity !== undefined) {
    const g = a.granularity;
    if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g > SVM_GRANULARITY_MAX) {
      throw new SvmError(
        'EARG',
        `granularity: expected an integer 0..${SVM_GRANULARITY_MAX} (log2 of pages), got ${describe(g)}`,
        { hint: 'Granularity is log2 of 4 KiB pages: 0 = 4 KiB, 9 = 2 MiB (the default), 18 = 1 GiB.' },
      );
    }
    out.push({ type: SvmAttrType.GRANULARITY, value: g });
  }
  if (a.prefetchLocation !== undefined) {
    out.push({
      type: SvmAttrType.PREFETCH_LOC,
      value: encodeLocation(gpus, a.prefetchLocation, 'prefetchLocation', false),
    });
  }
  return out;
}

/**
 * The GET_ATTR query for the whole state: both locations, both flag words, granularity, and one ACCESS
 * pair per GPU (the kernel answers per gpu_id and rewrites the type).
 */
export function getQuery(gpus: readonly Gpu[]): SvmAttribute[] {
  return [
    { type: SvmAttrType.PREFERRED_LOC, value: 0 },
    { type: SvmAttrType.PREFETCH_LOC, value: 0 },
    { type: SvmAttrType.SET_FLAGS, value: 0 },
    { type: SvmAttrType.CLR_FLAGS, value: 0 },
    { type: SvmAttrType.GRANULARITY, value: 0 },
    ...gpus.map((g) => ({ type: SvmAttrType.ACCESS, value: g.gpuId })),
  ];
}

function decodeLocation(value: number, gpus: readonly Gpu[]): Location {
  if (value === SvmLocation.SYSMEM) return 'system';
  if (value === SvmLocation.UNDEFINED) return 'undefined';
  const gpu = gpus.find((g) => g.gpuId === value);
  if (!gpu) {
    throw new SvmError('EUNKNOWNGPU', `the kernel answered a location with gpu_id ${value}, which is not one of this device's GPUs`);
  }
  return gpu;
}

/** Decodes a GET_ATTR answer (any subset of the pairs of {@link getQuery}) into the state object. */
export function decodeGetAnswer(answer: readonly SvmAttribute[], gpus: readonly Gpu[]): SvmAttributeState {
  let preferredLocation: Location = 'undefined';
  let prefetchLocation: Location = 'undefined';
  let setMask = 0;
  let clrMask = 0;
  let granularity = 0;
  const access = new Map<number, AccessMode>();
  for (const { type, value } of answer) {
    switch (type) {
      case SvmAttrType.PREFERRED_LOC:
        preferredLocation = decodeLocation(value, gpus);
        break;
      case SvmAttrType.PREFETCH_LOC:
        prefetchLocation = decodeLocation(value, gpus);
        break;
      case SvmAttrType.SET_FLAGS:
        setMask = value;
        break;
      case SvmAttrType.CLR_FLAGS:
        clrMask = value;
        break;
      case SvmAttrType.GRANULARITY:
        granularity = value;
        break;
      case SvmAttrType.ACCESS:
        access.set(value, 'access');
        break;
      case SvmAttrType.ACCESS_IN_PLACE:
        access.set(value, 'in-place');
        break;
      case SvmAttrType.NO_ACCESS:
        access.set(value, 'none');
        break;
      default:
        throw new SvmError('EKERNEL', `the kernel answered an unknown attribute type ${type}`);
    }
  }
  const flags = {} as Record<FlagName, FlagState>;
  for (const name of FLAG_NAMES) {
    const bit = FLAG_BITS[name];
    flags[name] = (setMask & bit) !== 0 ? true : (clrMask & bit) !== 0 ? false : 'mixed';
  }
  return { preferredLocation, prefetchLocation, access, flags, granularity, raw: answer.map((p) => ({ ...p })) };
}

/** The flag word of a flags record (true bits only), for tests and tools. */
export function flagMask(flags: Partial<Record<FlagName, boolean>>): number {
  let m = 0;
  for (const n of FLAG_NAMES) if (flags[n]) m |= FLAG_BITS[n];
  return m & SVM_FLAGS_ALL;
}
