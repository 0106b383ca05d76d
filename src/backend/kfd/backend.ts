/**
 * The kernel backend: each Backend method is one addon call on /dev/kfd (see native/). Arguments are
 * passed through as the kernel's; the addon rejects only what cannot be represented in the kernel's
 * structs (TypeError/RangeError), and the kernel's refusals arrive as KernelError. The per-operation
 * ioctls use the addon's errno mode (a trailing `true`: a refusal comes back as -errno) and build the one
 * KernelError here; the setup calls (ACQUIRE_VM, SMI, mmap) throw and are converted by native(). The
 * per-operation calls go through native() too: a binary built before errno mode (a stale build/Release,
 * which node-gyp-build prefers over the prebuild) ignores the flag and throws, and must still give a
 * KernelError.
 */
import { constants as bufferConstants } from 'node:buffer';
import { existsSync, readFileSync } from 'node:fs';
import { Errno, SvmOp } from '../abi.js';
import type {
  AllocOptions,
  Backend,
  KfdVersion,
  MachineText,
  MappedMemory,
  ProcessAperture,
  SmiEventSource,
  SvmAttribute,
  TreeReader,
} from '../contract.js';
import { KernelError } from '../errors.js';
import type { NativeAddon, NativeDeviceHandle } from './addon.js';
import { native, nativeAsync, refusedIoctl, toKernelError } from './errors.js';
import { KfdMappedMemory } from './memory.js';
import { KfdSmiEventSource } from './smi.js';
import { FsTreeReader } from './tree-reader.js';

export interface KfdBackendOptions {
  /** The KFD device node. Default /dev/kfd. */
  devicePath?: string;
  /** The KFD topology root. Default /sys/class/kfd/kfd/topology. */
  sysfsRoot?: string;
  /** The iomem listing. Default /proc/iomem. */
  iomemPath?: string;
  /** Render nodes are `${renderNodeBase}${minor}`. Default /dev/dri/renderD. */
  renderNodeBase?: string;
}

export const DEFAULT_DEVICE_PATH = '/dev/kfd';
export const DEFAULT_SYSFS_ROOT = '/sys/class/kfd/kfd/topology';
export const DEFAULT_IOMEM_PATH = '/proc/iomem';
export const DEFAULT_RENDER_NODE_BASE = '/dev/dri/renderD';

class KfdMachineText implements MachineText {
  readonly topology: TreeReader | undefined;
  constructor(
    sysfsRoot: string,
    private readonly iomemPath: string,
  ) {
    this.topology = existsSync(sysfsRoot) ? new FsTreeReader(sysfsRoot) : undefined;
  }
  iomem(): string | undefined {
    try {
      return readFileSync(this.iomemPath, 'utf8');
    } catch {
      return undefined;
    }
  }
}

/** The request names the addon's throwing mode reports too (native/device.cc, native/svm.cc). */
const REQ_GET_VERSION = 'AMDKFD_IOC_GET_VERSION';
const REQ_APERTURES = 'AMDKFD_IOC_GET_PROCESS_APERTURES_NEW';
const REQ_XNACK = 'AMDKFD_IOC_SET_XNACK_MODE';
const REQ_AVAILABLE_MEMORY = 'AMDKFD_IOC_AVAILABLE_MEMORY';
const REQ_SVM = 'AMDKFD_IOC_SVM';

export class KfdBackend implements Backend {
  readonly kind = 'kfd' as const;
  readonly machine: MachineText;
  private readonly renderNodeBase: string;
  private closed = false;

  /** kfdGetVersion's out-parameter, reused: [major_version, minor_version]. */
  private readonly versionOut = new Uint32Array(2);

  constructor(
    private readonly addon: NativeAddon,
    private readonly h: NativeDeviceHandle,
    opts: Required<KfdBackendOptions>,
  ) {
    this.renderNodeBase = opts.renderNodeBase;
    this.machine = new KfdMachineText(opts.sysfsRoot, opts.iomemPath);
  }

  /** Asked only when a call came back EBADF: a closed handle, or the kernel's own EBADF? */
  private readonly isOpen = (): boolean => this.addon.kfdIsOpen(this.h);

  version(): KfdVersion {
    const out = this.versionOut;
    // Inline rather than native(): the closure costs ~20 ns on the cheapest call there is.
    let r: number | undefined;
    try {
      r = this.addon.kfdGetVersion(this.h, out, true);
    } catch (e) {
      throw toKernelError(e);
    }
    if (r !== undefined) throw refusedIoctl(r, REQ_GET_VERSION, this.isOpen);
    return { major: out[0] as number, minor: out[1] as number };
  }

  processApertures(): ProcessAperture[] {
    const r = native(() => this.addon.kfdGetProcessApertures(this.h, true));
    if (typeof r === 'number') throw refusedIoctl(r, REQ_APERTURES, this.isOpen);
    return r;
  }

  acquireVm(gpuId: number, drmRenderMinor: number): void {
    if (typeof drmRenderMinor !== 'number') throw new TypeError('drmRenderMinor must be a number');
    if (!Number.isInteger(drmRenderMinor) || drmRenderMinor < 0 || drmRenderMinor > 0xfffff) {
      throw new RangeError(`drmRenderMinor must be a device minor (an integer in [0, 2^20-1]), got ${drmRenderMinor}`);
    }
    native(() => this.addon.kfdAcquireVm(this.h, gpuId, `${this.renderNodeBase}${drmRenderMinor}`));
  }

  getXnack(): boolean {
    const r = native(() => this.addon.kfdSetXnackMode(this.h, -1, true));
    if (r < 0) throw refusedIoctl(r, REQ_XNACK, this.isOpen);
    return r > 0;
  }

  setXnack(enabled: boolean): void {
    if (typeof enabled !== 'boolean') throw new TypeError('enabled must be a boolean');
    const r = native(() => this.addon.kfdSetXnackMode(this.h, enabled ? 1 : 0, true));
    if (r < 0) throw refusedIoctl(r, REQ_XNACK, this.isOpen);
  }

  async svmSetAttr(start: bigint, size: bigint, attrs: readonly SvmAttribute[]): Promise<void> {
    await this.svmAsync(SvmOp.SET_ATTR, start, size, attrs);
  }

  svmGetAttr(start: bigint, size: bigint, attrs: readonly SvmAttribute[]): SvmAttribute[] {
    const r = native(() => this.addon.kfdSvmSync(this.h, SvmOp.GET_ATTR, start, size, attrs, true));
    if (typeof r === 'number') throw refusedIoctl(r, REQ_SVM, this.isOpen);
    return r;
  }

  svmRaw(op: number, start: bigint, size: bigint, attrs: readonly SvmAttribute[]): Promise<SvmAttribute[]> {
    return this.svmAsync(op, start, size, attrs);
  }

  availableMemory(gpuId: number): bigint {
    const r = native(() => this.addon.kfdAvailableMemory(this.h, gpuId, true));
    if (typeof r === 'number') throw refusedIoctl(r, REQ_AVAILABLE_MEMORY, this.isOpen);
    return r;
  }

  /** AMDKFD_IOC_SVM on the addon's worker thread; a sync throw (bad arguments) becomes a rejection. */
  private async svmAsync(op: number, start: bigint, size: bigint, attrs: readonly SvmAttribute[]): Promise<SvmAttribute[]> {
    const p = native(() => this.addon.kfdSvmAsync(this.h, op, start, size, attrs, true));
    const r = typeof p === 'number' ? p : await nativeAsync(() => p);
    if (typeof r === 'number') throw refusedIoctl(r, REQ_SVM, this.isOpen);
    return r;
  }

  alloc(size: number, options?: AllocOptions): MappedMemory {
    if (this.closed) throw new KernelError(Errno.EBADF, 'mmap', undefined, 'the backend is closed');
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new TypeError('options must be an object');
    }
    // Above the runtime's largest ArrayBuffer the mapping comes without one (Node would refuse it), and
    // read()/write() reach its bytes.
    const page = this.addon.pageSize;
    const len = typeof size === 'number' ? Math.ceil(size / page) * page : size;
    const m = native(() => this.addon.memAlloc(size, options?.align2M ?? false, !(len > bufferConstants.MAX_LENGTH)));
    return new KfdMappedMemory(this.addon, m);
  }

  openSmiEvents(gpuId: number, mask: bigint): SmiEventSource {
    const s = native(() => this.addon.kfdSmiOpen(this.h, gpuId, mask));
    return new KfdSmiEventSource(this.addon, s);
  }

  /** A no-op on real hardware: the MMU and the kernel's fault handler do the work. */
  async cpuAccess(start: bigint, size: bigint, mode: 'read' | 'write'): Promise<void> {
    if (this.closed) throw new KernelError(Errno.EBADF, 'access', undefined, 'the backend is closed');
    void start;
    void size;
    void mode;
  }

  close(): void {
    this.closed = true;
    this.addon.kfdClose(this.h);
  }
}
