/**
 * The simulator backend: the Backend contract answered by a model of the amdgpu KFD driver
 * (./process.ts) instead of /dev/kfd. Errors are the kernel's, errno for errno, thrown as KernelError with
 * the ioctl's name; everything the kernel hides (where pages are, counters, the clock, a GPU touching
 * memory) is reachable only through the sim-only members of SimIntrospection, which the kfd backend lacks.
 */
import { endianness } from 'node:os';
import { Errno, SVM_DEFAULT_GRANULARITY } from '../abi.js';
import type {
  AllocOptions,
  Backend,
  KfdVersion,
  MachineText,
  MappedMemory,
  ProcessAperture,
  SmiEventSource,
  SvmAttribute,
} from '../contract.js';
import { KernelError } from '../errors.js';
import type { MachineProfile } from '../../platform/profile-types.js';
import { DEFAULT_PROFILE, getProfile, iomemText, topologyTree } from '../../platform/profiles.js';
import { DEFAULT_MAX_BACKED_BYTES } from './address-space.js';
import type { SimGpu } from './devices.js';
import { KfdProcess, ModelError, type SimCounters, type SnapshotRun } from './process.js';

export type { SimCounters, SnapshotRun, PageLocation } from './process.js';
/** The ABI constants a caller of the raw backend needs, so `kfd-svm/sim` is usable on its own. */
export { SvmAttrType, SvmFlag, SvmLocation, SmiEvent, smiEventMask, MigrateTrigger } from '../abi.js';

export interface SimBackendOptions {
  /** A profile id ('mi250x' default, 'mi210', 'mi300a', 'mi300x', 'cpu-only') or a profile object. */
  profile?: string | MachineProfile;
  /** Run as root (CAP_SYS_ADMIN): /proc/iomem shows addresses, SMI clients may see other processes. */
  root?: boolean;
  /** The process id in event lines (default: this process's pid). */
  pid?: number;
  /** The task name in VM fault lines (default 'node'). */
  taskName?: string;
  /** The boot-time clock at start, in ns (default 1 s). */
  clockStartNs?: number;
  /** Mappings larger than this have no host memory behind `buffer` (default 4 GiB). */
  maxBackedBytes?: number;
  /** The module parameter amdgpu.svm_default_granularity (default 9; the kernel caps it at 0x1B). */
  svmDefaultGranularity?: number;
}

/** One SVM range as the model holds it (sim only). Addresses in bytes. */
export interface SimRangeInfo {
  start: bigint;
  size: bigint;
  preferredLoc: number;
  prefetchLoc: number;
  granularity: number;
  flags: number;
  /** gpu_ids with ACCESS / ACCESS_IN_PLACE. */
  access: number[];
  accessInPlace: number[];
  mappedToGpu: boolean;
}

/** The result of a simulated GPU access. */
export interface GpuAccessResult {
  /** True when the access ended in a VM fault (no mapping that could be recovered). */
  vmFault: boolean;
  /** GPU page faults taken (recovered or not). */
  faults: number;
}

/** A user queue (sim only): while one exists, the XNACK mode cannot change (EBUSY). */
export interface SimQueue {
  readonly gpuId: number;
  destroy(): void;
}

/**
 * Sim-only hooks and introspection. None of this exists on a real machine: code that uses it is test or
 * tooling code, never library code that must also run on the kfd backend.
 */
export interface SimIntrospection {
  /** The machine profile the model runs. */
  readonly profile: MachineProfile;
  /** The model's boot-time clock in ns (event timestamps and migration costs use it). */
  clock(): bigint;
  /** Where the mapped pages of [start, start+size) are, one entry per run. */
  snapshot(start: bigint, size: bigint): SnapshotRun[];
  /** A copy of the counters. */
  counters(): SimCounters;
  /** The SVM ranges the model holds (the kernel's svm_range list), in address order. */
  ranges(): SimRangeInfo[];
  /**
   * A GPU's VRAM as SVM uses it, in bytes: `used` by SVM BOs (each as large as the range it was made for),
   * `resident` pages actually there, and its `capacity`: what AVAILABLE_MEMORY reports, which migrations may
   * fill. On a partitioned device the XCPs of a memory partition share its VRAM, so one of them may use more
   * than its own capacity while the others use less.
   */
  vram(gpuId: number): { used: bigint; resident: bigint; capacity: bigint };
  /** KFD's system memory accounting (kfd_mem_limit): XNACK-off ranges count against the limit. Bytes. */
  systemMemory(): { used: bigint; limit: bigint };
  /** The GPU reads or writes [start, start+size): faults and migrates as the driver does (XNACK rules). */
  gpuAccess(gpuId: number, start: bigint, size: bigint, mode: 'read' | 'write'): Promise<GpuAccessResult>;
  /** Creates a user queue on a GPU (AMDKFD_IOC_CREATE_QUEUE, reduced to what XNACK cares about). */
  createQueue(gpuId: number): SimQueue;
  /** Maps device memory (VM_IO | VM_PFNMAP, like a doorbell mmap): SVM refuses it with EFAULT. */
  mapDevice(size: number): MappedMemory;
  /** Another process takes a VM fault on this GPU: seen only by root clients with the ALL_PROCESS bit. */
  foreignVmFault(gpuId: number, pid: number, taskName?: string): void;
}

/** The Backend contract, plus the sim-only members of SimIntrospection. */
export interface SimBackend extends Backend, SimIntrospection {
  readonly kind: 'sim';
}

const REQ = {
  svm: 'AMDKFD_IOC_SVM',
  xnack: 'AMDKFD_IOC_SET_XNACK_MODE',
  acquire: 'AMDKFD_IOC_ACQUIRE_VM',
  avail: 'AMDKFD_IOC_AVAILABLE_MEMORY',
  smi: 'AMDKFD_IOC_SMI_EVENTS',
  version: 'AMDKFD_IOC_GET_VERSION',
  apertures: 'AMDKFD_IOC_GET_PROCESS_APERTURES_NEW',
  queue: 'AMDKFD_IOC_CREATE_QUEUE',
} as const;

const U64_MAX = (1n << 64n) - 1n;

function checkU64(name: string, v: bigint): void {
  if (typeof v !== 'bigint') throw new TypeError(`${name} must be a bigint, got ${typeof v}`);
  if (v < 0n || v > U64_MAX) throw new RangeError(`${name} ${v} does not fit a u64`);
}

/** Scratch for bigint → number without Number(bigint) (a runtime call per value on the SVM hot path). */
const U64_SCRATCH = new BigUint64Array(1);
const W32 = new Uint32Array(U64_SCRATCH.buffer);
const [LO, HI] = endianness() === 'LE' ? [0, 1] : [1, 0];

/** A bigint known to be in [0, 2^53) as the same number. */
function smallToNumber(v: bigint): number {
  U64_SCRATCH[0] = v;
  return W32[HI]! * 4294967296 + W32[LO]!;
}

/** True for a bigint in [0, 2^53): a valid u64 whose value a number holds exactly. */
const isSmallU64 = (v: unknown): v is bigint => typeof v === 'bigint' && BigInt.asUintN(53, v) === v;

function checkU32(name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${name} must be an integer, got ${String(v)}`);
  if (v < 0 || v > 0xffffffff) throw new RangeError(`${name} ${v} does not fit a u32`);
}

/** True for an integer in [0, 2^32). */
const isU32 = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v <= 0xffffffff && Number.isInteger(v);

function checkAttrs(attrs: readonly SvmAttribute[]): readonly SvmAttribute[] {
  if (!Array.isArray(attrs)) throw new TypeError('attrs must be an array of { type, value }');
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i];
    if (typeof a !== 'object' || a === null) throw new TypeError(`attrs[${i}] must be { type, value }`);
    // The names are built only for the error (a template string per attribute and call was an allocation).
    if (!isU32(a.type)) checkU32(`attrs[${i}].type`, a.type);
    if (!isU32(a.value)) checkU32(`attrs[${i}].value`, a.value);
  }
  return attrs;
}

/** Runs a model call, turning its refusals into the KernelError the kernel's errno would give. */
function kcall<T>(request: string, fn: () => T, syscall = 'ioctl'): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ModelError) throw new KernelError(e.errno, syscall, request, e.message);
    throw e;
  }
}

function resolveProfile(p: string | MachineProfile | undefined): MachineProfile {
  if (p === undefined) return getProfile(DEFAULT_PROFILE);
  if (typeof p === 'string') return getProfile(p);
  return p;
}

const toPages = (start: bigint, size: bigint): [number, number] => {
  const a = Number(start >> 12n);
  const b = Number((start + size + 4095n) >> 12n);
  return [a, b];
};

export function createSimBackend(opts: SimBackendOptions = {}): SimBackend {
  const profile = resolveProfile(opts.profile);
  const root = opts.root ?? false;
  const proc = new KfdProcess(profile, {
    pid: opts.pid ?? process.pid,
    taskName: opts.taskName ?? 'node',
    root,
    clockStartNs: opts.clockStartNs ?? 1e9,
    maxBackedBytes: opts.maxBackedBytes ?? DEFAULT_MAX_BACKED_BYTES,
    defaultGranularity: opts.svmDefaultGranularity ?? SVM_DEFAULT_GRANULARITY,
  });
  let closed = false;
  let topology: MachineText['topology'] | null = null;

  const open = (request: string, syscall = 'ioctl'): void => {
    if (closed) throw new KernelError(Errno.EBADF, syscall, request, 'the backend is closed');
  };
  const gpuOrEinval = (request: string, gpuId: number): SimGpu => {
    const g = proc.gpu(gpuId);
    if (!g) throw new KernelError(Errno.EINVAL, 'ioctl', request, `no GPU 0x${gpuId.toString(16)} in this process`);
    return g;
  };

  const svmCall = (op: number, start: bigint, size: bigint, attrs: readonly SvmAttribute[]): readonly SvmAttribute[] => {
    checkU32('op', op);
    // The usual values (below 2^53) pass checkU64 by construction and go to the model as numbers.
    const small = isSmallU64(start) && isSmallU64(size);
    if (!small) {
      checkU64('start', start);
      checkU64('size', size);
    }
    const a = checkAttrs(attrs);
    open(REQ.svm);
    // kcall's mapping, inlined: this runs on every SVM call and a closure per call costs an allocation.
    try {
      return small ? proc.svmBytes(op, smallToNumber(start), smallToNumber(size), a) : proc.svm(op, start, size, a);
    } catch (e) {
      if (e instanceof ModelError) throw new KernelError(e.errno, 'ioctl', REQ.svm, e.message);
      throw e;
    }
  };

  const machine: MachineText = {
    get topology() {
      // A machine with no GPU still has KFD (a virtual CRAT with one CPU node), so the tree is always there.
      if (topology === null) topology = topologyTree(profile);
      return topology;
    },
    iomem: () => iomemText(profile, { hideAddresses: !root }),
  };

  // Sim only: everything below this line up to `backend` is introspection and hooks, not the contract.
  const sim: SimIntrospection = {
    profile,
    clock: () => proc.clock,
    snapshot(start, size) {
      checkU64('start', start);
      checkU64('size', size);
      const [a, b] = toPages(start, size);
      return proc.snapshot(a, b);
    },
    counters: () => structuredClone(proc.counters),
    ranges: () =>
      proc.ranges.all().map((r) => ({
        start: BigInt(r.start) << 12n,
        size: BigInt(r.last - r.start + 1) << 12n,
        preferredLoc: r.preferredLoc,
        prefetchLoc: r.prefetchLoc,
        granularity: r.granularity,
        flags: r.flags,
        access: proc.gpus.filter((g) => r.access & (1 << g.idx)).map((g) => g.gpuId),
        accessInPlace: proc.gpus.filter((g) => r.aip & (1 << g.idx)).map((g) => g.gpuId),
        mappedToGpu: r.mappedToGpu,
      })),
    vram(gpuId) {
      const g = gpuOrEinval('vram', gpuId);
      return {
        used: BigInt(proc.mem.usedPages(g)) << 12n,
        resident: BigInt(proc.mem.residentPages(g)) << 12n,
        capacity: BigInt(g.vramPages) << 12n,
      };
    },
    systemMemory() {
      const m = proc.systemMemory();
      return { used: BigInt(m.used), limit: BigInt(m.limit) };
    },
    async gpuAccess(gpuId, start, size, mode) {
      checkU64('start', start);
      checkU64('size', size);
      open('gpuAccess', 'gpuAccess');
      const g = proc.gpu(gpuId);
      if (!g) throw new KernelError(Errno.EINVAL, 'gpuAccess', undefined, `no GPU 0x${gpuId.toString(16)}`);
      if (!proc.hasVm(g)) throw new KernelError(Errno.EINVAL, 'gpuAccess', undefined, 'no GPU VM acquired for this GPU');
      if (size === 0n) return { vmFault: false, faults: 0 };
      const [a, b] = toPages(start, size);
      return proc.gpuAccess(g, a, b, mode === 'write');
    },
    createQueue(gpuId) {
      open(REQ.queue);
      const id = kcall(REQ.queue, () => proc.createQueue(gpuId));
      let gone = false;
      return {
        gpuId,
        destroy() {
          if (gone) return;
          gone = true;
          proc.destroyQueue(id);
        },
      };
    },
    mapDevice(size) {
      return proc.space.map(size, undefined, 'device');
    },
    foreignVmFault(gpuId, pid, taskName = 'other') {
      proc.foreignVmFault(gpuOrEinval('foreignVmFault', gpuId), pid, taskName);
    },
  };

  const backend: SimBackend = {
    ...sim,
    kind: 'sim',
    machine,

    version(): KfdVersion {
      open(REQ.version);
      return { major: profile.kfdVersion.major, minor: profile.kfdVersion.minor };
    },

    processApertures(): ProcessAperture[] {
      open(REQ.apertures);
      // kfd_flat_memory.c: kfd_init_apertures_v9 (every profile GPU is GFX9).
      const lds = 1n << 48n;
      const scratch = 2n << 48n;
      const limit = (base: bigint): bigint => (base & 0xffffffff00000000n) | 0xffffffffn;
      return proc.gpus.map((g) => ({
        gpuId: g.gpuId,
        ldsBase: lds,
        ldsLimit: limit(lds),
        scratchBase: scratch,
        scratchLimit: limit(scratch),
        gpuvmBase: 1n << 16n, // AMDGPU_VA_RESERVED_BOTTOM
        gpuvmLimit: (1n << 47n) - 1n, // gpuvm_size - 1 (48-bit VA up to the GMC hole)
      }));
    },

    acquireVm(gpuId, drmRenderMinor) {
      checkU32('gpuId', gpuId);
      open(REQ.acquire);
      const node = proc.gpus.find((g) => g.desc.drmRenderMinor === drmRenderMinor);
      if (!node) throw new KernelError(Errno.ENOENT, 'open', `/dev/dri/renderD${drmRenderMinor}`);
      const g = gpuOrEinval(REQ.acquire, gpuId);
      // The render node of another GPU holds another device's VM.
      if (node !== g) throw new KernelError(Errno.EINVAL, 'ioctl', REQ.acquire, 'render node of another GPU');
      kcall(REQ.acquire, () => proc.acquireVm(gpuId));
    },

    getXnack() {
      open(REQ.xnack);
      return proc.xnack;
    },

    setXnack(enabled) {
      if (typeof enabled !== 'boolean') throw new TypeError('enabled must be a boolean');
      open(REQ.xnack);
      kcall(REQ.xnack, () => proc.setXnack(enabled));
    },

    async svmSetAttr(start, size, attrs) {
      svmCall(0, start, size, attrs);
    },

    svmGetAttr(start, size, attrs) {
      // GET_ATTR answers in fresh objects (process.ts getAttr maps the array).
      return svmCall(1, start, size, attrs) as SvmAttribute[];
    },

    async svmRaw(op, start, size, attrs) {
      // The kernel copies the array out again; a SET leaves it as it was.
      return svmCall(op, start, size, attrs).map((a) => ({ type: a.type, value: a.value }));
    },

    availableMemory(gpuId) {
      checkU32('gpuId', gpuId);
      open(REQ.avail);
      // amdgpu_amdkfd_get_available_memory: VRAM minus KFD allocations and the page-table reserve.
      // SVM migrations do not count (their BOs are not KFD allocations); see sim.vram() for those.
      return gpuOrEinval(REQ.avail, gpuId).availableBytes;
    },

    alloc(size, options?: AllocOptions) {
      open('anonymous memory', 'mmap');
      return proc.space.map(size, options, 'anon');
    },

    openSmiEvents(gpuId, mask): SmiEventSource {
      checkU32('gpuId', gpuId);
      checkU64('mask', mask);
      open(REQ.smi);
      gpuOrEinval(REQ.smi, gpuId);
      return proc.smi.open(gpuId, proc.opts.pid, root, mask);
    },

    async cpuAccess(start, size, mode) {
      checkU64('start', start);
      checkU64('size', size);
      if (mode !== 'read' && mode !== 'write') throw new TypeError(`mode must be 'read' or 'write'`);
      open('cpuAccess', 'access');
      if (size === 0n) return;
      const [a, b] = toPages(start, size);
      if (!proc.cpuAccess(a, b)) {
        throw new KernelError(Errno.EFAULT, 'access', undefined, `SIGSEGV: 0x${start.toString(16)} is not mapped`);
      }
    },

    close() {
      if (closed) return;
      closed = true;
      proc.smi.closeAll();
    },
  };
  return backend;
}
