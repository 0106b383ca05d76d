/**
 * The backend contract: the KFD kernel interface at ioctl level, nothing more.
 *
 * Two implementations: `backend/kfd` (the native addon issuing real ioctls on /dev/kfd) and `backend/sim`
 * (a model of the amdgpu KFD driver in TypeScript). The public API (src/device.ts, src/svm-buffer.ts) is
 * written once against this interface and never asks which one it runs on.
 *
 * Rules every implementation follows:
 * - Arguments are the kernel's: addresses and sizes in bytes as `bigint` (u64), attributes as the kernel's
 *   `(type, value)` pairs of u32, gpu_ids as numbers. The backend does NOT validate what the kernel
 *   validates: an unaligned size goes to the kernel (or the model), which answers EINVAL. Only values that
 *   cannot be represented in the kernel struct (a negative or > 2^64-1 size, a non-u32 attribute) are
 *   rejected before the call, with a RangeError/TypeError.
 * - A refused call throws (or rejects with) a `KernelError` carrying the kernel's errno, 'ioctl' (or the
 *   syscall) and the request name ('AMDKFD_IOC_SVM'). Nothing else is thrown for kernel refusals.
 * - Quick calls are synchronous. Calls that may block in the kernel (an SVM SET that migrates gigabytes,
 *   reading SMI events) return Promises and run off the JS thread in the kfd backend.
 */

/** One `struct kfd_ioctl_svm_attribute`: u32 type, u32 value. */
export interface SvmAttribute {
  type: number;
  value: number;
}

/** `struct kfd_ioctl_get_version_args`. */
export interface KfdVersion {
  major: number;
  minor: number;
}

/** One `struct kfd_process_device_apertures` (GET_PROCESS_APERTURES_NEW). */
export interface ProcessAperture {
  gpuId: number;
  ldsBase: bigint;
  ldsLimit: bigint;
  scratchBase: bigint;
  scratchLimit: bigint;
  gpuvmBase: bigint;
  gpuvmLimit: bigint;
}

/**
 * Page-aligned memory mapped into the process (an anonymous `mmap` for the kfd backend; a mapping in the
 * model's address space for the sim). Registering it as an SVM range is a separate `svmSetAttr` call.
 */
export interface MappedMemory {
  /** The start address of the mapping. */
  readonly address: bigint;
  /** Its length in bytes (a multiple of the page size). */
  readonly size: number;
  /**
   * The memory itself as an ArrayBuffer, with no copy. Throws once freed (the kfd backend detaches the
   * buffer on free so no view can reach unmapped memory), and throws `ExternalBuffersForbiddenError`
   * (src/backend/errors.ts) in a runtime that forbids external ArrayBuffers (Electron 21+): there only
   * `read()`/`write()` reach the memory.
   */
  readonly buffer: ArrayBuffer;
  /**
   * Copies `target.byteLength` bytes of the memory, from `offset`, into `target` (a TypedArray, Buffer or
   * DataView; its byte offset honoured). Works where `buffer` cannot. A CPU access like any other: pages in
   * device-private VRAM fault back to system memory first (the simulator models that fault too).
   * - TypeError: `offset` is not a number; `target` is not an ArrayBufferView, or views a detached buffer.
   * - RangeError: `offset` is not an integer in [0, 2^53-1], or `offset + target.byteLength` exceeds `size`.
   * - KernelError EFAULT (syscall 'memcpy') once freed: the pages are gone.
   */
  read(offset: number, target: ArrayBufferView): void;
  /** Copies `source` into the memory at `offset`; the same checks and errors as `read`. */
  write(offset: number, source: ArrayBufferView): void;
  /** True after `free()`. */
  readonly freed: boolean;
  /** Unmaps the memory. Idempotent. Ranges over it go away as the kernel's MMU notifier removes them. */
  free(): void;
}

export interface AllocOptions {
  /** Align the mapping to 2 MiB (the default SVM granularity), so huge pages and whole granules fit. */
  align2M?: boolean;
}

/**
 * A read-only view of a directory tree (sysfs topology). Paths are relative to the topology root
 * (`/sys/class/kfd/kfd/topology` on a real machine), with '/' separators. `undefined` means "not there"
 * (ENOENT), which a reader must expect at any time: a node can vanish between listing and reading.
 */
export interface TreeReader {
  readFile(path: string): string | undefined;
  listDir(path: string): string[] | undefined;
}

/**
 * An open SMI event file (the anonymous fd SMI_EVENTS returns). The mask is written at open.
 */
export interface SmiEventSource {
  /**
   * The next chunk of event text: one or more lines, each `"<event id hex> <body>\n"`. Resolves with ''
   * once the source is closed (end of stream). One read at a time; a second concurrent read rejects.
   */
  read(): Promise<string>;
  /** Changes the event mask (a write of a u64 to the fd). */
  setMask(mask: bigint): void;
  /** Closes the fd; a pending read resolves with ''. Idempotent. */
  close(): void;
}

/** Where the backend reads the machine's text surfaces from. */
export interface MachineText {
  /** The KFD topology tree, or undefined when the machine has no KFD (no /sys/class/kfd). */
  topology: TreeReader | undefined;
  /** The text of /proc/iomem as this process may read it (zero addresses without CAP_SYS_ADMIN). */
  iomem(): string | undefined;
}

export type BackendKind = 'kfd' | 'sim';

export interface Backend {
  readonly kind: BackendKind;

  /** AMDKFD_IOC_GET_VERSION. */
  version(): KfdVersion;
  /** AMDKFD_IOC_GET_PROCESS_APERTURES_NEW: one entry per GPU the process has. */
  processApertures(): ProcessAperture[];
  /**
   * Opens the GPU's render node (/dev/dri/renderD<minor>) and calls AMDKFD_IOC_ACQUIRE_VM with it, as the
   * ROCm runtime does. The kernel refuses every SVM SET until at least one GPU VM exists (EINVAL).
   * Acquiring a GPU twice is a no-op, as in the kernel.
   */
  acquireVm(gpuId: number, drmRenderMinor: number): void;

  /** AMDKFD_IOC_SET_XNACK_MODE with -1: the process's XNACK mode. */
  getXnack(): boolean;
  /** AMDKFD_IOC_SET_XNACK_MODE: EBUSY with user queues, EPERM when a GPU cannot support it. */
  setXnack(enabled: boolean): void;

  /**
   * AMDKFD_IOC_SVM with op SET_ATTR: applies the attributes in array order; may migrate (prefetch), so it
   * is asynchronous. The ioctl's size bits cover the attribute array, as libhsakmt does.
   */
  svmSetAttr(start: bigint, size: bigint, attrs: readonly SvmAttribute[]): Promise<void>;
  /**
   * AMDKFD_IOC_SVM with op GET_ATTR: returns the attributes with the kernel's answers filled in (and, for
   * access queries, the type rewritten to ACCESS, ACCESS_IN_PLACE or NO_ACCESS).
   */
  svmGetAttr(start: bigint, size: bigint, attrs: readonly SvmAttribute[]): SvmAttribute[];
  /**
   * AMDKFD_IOC_SVM with an arbitrary op, for conformance tests of the kernel's rejection of unknown ops.
   * Resolves with the attributes as the kernel left them.
   */
  svmRaw(op: number, start: bigint, size: bigint, attrs: readonly SvmAttribute[]): Promise<SvmAttribute[]>;

  /** AMDKFD_IOC_AVAILABLE_MEMORY for a GPU, in bytes. */
  availableMemory(gpuId: number): bigint;

  /** Maps page-aligned anonymous memory (mmap). */
  alloc(size: number, options?: AllocOptions): MappedMemory;

  /** AMDKFD_IOC_SMI_EVENTS for a GPU, then writes the mask to the returned fd. */
  openSmiEvents(gpuId: number, mask: bigint): SmiEventSource;

  /**
   * A CPU access to [start, start+size): a no-op on real hardware (the MMU and the kernel's fault handler
   * do the work); the simulator applies the kernel's CPU fault rules (svm_migrate_to_ram for device-private
   * pages, in-place access for device-coherent ones) and emits the events.
   */
  cpuAccess(start: bigint, size: bigint, mode: 'read' | 'write'): Promise<void>;

  /** The machine's text surfaces, for the parsers in src/platform. */
  readonly machine: MachineText;

  /** Closes /dev/kfd and every render node. Idempotent; later calls throw KernelError EBADF. */
  close(): void;
}
