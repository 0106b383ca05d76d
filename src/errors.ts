/**
 * The one error class of the public API, and the one function that turns what a backend throws into it.
 *
 * Every failure a caller can meet carries a stable `code` (listed in {@link SvmErrorCode} and in the
 * README's "Errors" section), the kernel's `errno`/`syscall`/`request` when the kernel (or the simulator
 * standing in for it) answered, and a `hint` a person can act on.
 */
import { Errno, type ErrnoName } from './backend/abi.js';
import { isKernelError, type KernelError } from './backend/errors.js';

/**
 * Codes the API itself produces (no kernel call was made, or the kernel's answer has a more precise
 * meaning in context).
 */
export type ApiErrorCode =
  /** The kernel was built without SVM support (CONFIG_HSA_AMD_SVM off: SVM and XNACK ioctls give EPERM). */
  | 'ENOSVM'
  /** The kernel refuses SVM ranges until a GPU VM exists, and this device has no GPU with SVM support. */
  | 'ENOGPU'
  /** The backend cannot do it here: the native addon failed to load, or a simulated range is too large to back. */
  | 'EBACKEND'
  /** `bytes` in a runtime that forbids external ArrayBuffers (Electron 21+): `read()`/`write()` copy instead. */
  | 'ENOEXTBUF'
  /** The buffer (or registered range) was freed. */
  | 'EFREED'
  /** The device was closed. */
  | 'ECLOSED'
  /** A span is not page-aligned, empty, or not inside the buffer. */
  | 'ESPAN'
  /** A GPU that is not one of this device's GPUs. */
  | 'EUNKNOWNGPU'
  /** An argument the API cannot encode (wrong type, out of range, unknown name). */
  | 'EARG'
  /** The machine description (KFD topology) could not be read. */
  | 'EPARSE'
  /** The kernel answered with an errno this package has no name for (see `errno`). */
  | 'EKERNEL';

/** Every `SvmError.code`: the kernel's errno names, plus the API's own codes. */
export type SvmErrorCode = ErrnoName | ApiErrorCode;

/** Every code, for documentation and exhaustive tests. */
export const SVM_ERROR_CODES: readonly SvmErrorCode[] = [
  ...(Object.keys(Errno) as ErrnoName[]),
  'ENOSVM',
  'ENOGPU',
  'EBACKEND',
  'ENOEXTBUF',
  'EFREED',
  'ECLOSED',
  'ESPAN',
  'EUNKNOWNGPU',
  'EARG',
  'EPARSE',
  'EKERNEL',
];

/** Extra fields of an {@link SvmError}. */
export interface SvmErrorDetails {
  /** The kernel's positive errno, when the kernel answered. */
  errno?: number | undefined;
  /** The system call that failed ('ioctl', 'open', ...), when the kernel answered. */
  syscall?: string | undefined;
  /** The KFD request ('AMDKFD_IOC_SVM', ...) or path, when known. */
  request?: string | undefined;
  /** What a person can do about it; a default per code is used when omitted. */
  hint?: string | undefined;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * The error every public function throws or rejects with.
 *
 * @example
 * ```ts
 * try { await buf.prefetch(gpu); } catch (e) {
 *   if (e instanceof SvmError && e.code === 'ENOMEM') console.error(e.hint);
 * }
 * ```
 */
export class SvmError extends Error {
  override readonly name = 'SvmError';
  /** Stable code for this failure; see {@link SvmErrorCode}. */
  readonly code: SvmErrorCode;
  /** The kernel's positive errno, when the kernel (or the simulator) answered. */
  readonly errno: number | undefined;
  /** The failed system call, when the kernel answered. */
  readonly syscall: string | undefined;
  /** The KFD request or path, when known. */
  readonly request: string | undefined;
  /** A sentence a person can act on. */
  readonly hint: string;

  /** Made by the API; `details.hint` defaults to the code's hint. */
  constructor(code: SvmErrorCode, message: string, details: SvmErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.errno = details.errno;
    this.syscall = details.syscall;
    this.request = details.request;
    this.hint = details.hint ?? defaultHint(code);
  }
}

/** True for an {@link SvmError}, optionally of one code. */
export function isSvmError(e: unknown, code?: SvmErrorCode): e is SvmError {
  return e instanceof SvmError && (code === undefined || e.code === code);
}

const DEFAULT_HINTS: Record<SvmErrorCode, string> = {
  EPERM: 'The kernel did not permit the operation.',
  ENOENT: 'A file the driver needs is missing.',
  EINTR: 'The call was interrupted by a signal; retry it.',
  EIO: 'The driver reported an I/O error; check `dmesg` for amdgpu messages.',
  EBADF:
    'The KFD file descriptor is closed or belongs to another process (a KFD fd does not survive fork): open() again in this process.',
  EAGAIN: 'The driver is busy; retry the call.',
  ENOMEM: 'Not enough memory for the request (system memory or the GPU\'s VRAM); free buffers or use a smaller size.',
  EACCES: "Permission denied on the device node: add your user to the group that owns it (usually 'render') and log in again.",
  EFAULT:
    'Part of the range is not mapped memory this process owns (or is device/IO memory): register only memory mapped with mmap.',
  EBUSY: 'The setting cannot change now (XNACK cannot change while the process has user-mode queues).',
  ENODEV:
    'No usable /dev/kfd: load amdgpu on a machine with an AMD GPU (modprobe amdgpu), or use the simulator (KFD_SVM_BACKEND=sim).',
  EINVAL:
    'The kernel refused the arguments: start and size must be non-zero multiples of 4096, and every gpu_id one of this process\'s GPUs with SVM support.',
  ENOTTY: 'The driver does not know this ioctl: the kernel is older than the KFD ioctl version this package needs (1.5 for SVM).',
  ENOSPC: 'No space left on the target GPU; free buffers or prefetch to another location.',
  ERANGE: 'A value is out of the range the kernel accepts.',
  EOVERFLOW: 'start + size wraps around the address space.',
  ENOSVM:
    'This kernel was built without SVM support (CONFIG_HSA_AMD_SVM needs CONFIG_DEVICE_PRIVATE; stock Debian kernels lack it): use a kernel with HSA_AMD_SVM=y, or the simulator (KFD_SVM_BACKEND=sim).',
  ENOGPU:
    'The kernel accepts SVM ranges only once a GPU VM exists, and this machine has no GPU with SVM support: run on a GPU node, or use the simulator with a GPU profile (KFD_SVM_PROFILE=mi250x).',
  EBACKEND:
    'The backend cannot do this here (the native addon failed to load, or the simulator cannot back a range this large with host memory): reinstall the package (npm rebuild kfd-svm), or use the simulator (KFD_SVM_BACKEND=sim).',
  ENOEXTBUF:
    "This runtime forbids external ArrayBuffers (Electron 21+, V8's memory cage), so the memory cannot be viewed in place: copy with buf.read(offset, length) / buf.read(offset, target) and buf.write(offset, source).",
  EFREED: 'This buffer was freed; allocate a new one with device.alloc().',
  ECLOSED: 'The device was closed; call open() again.',
  ESPAN:
    'A span is { offset, length } in bytes: both multiples of 4096, length > 0, and offset + length no more than the buffer size.',
  EUNKNOWNGPU: 'Pass one of device.gpus (or its gpuId).',
  EARG: 'Check the argument against the documented type and range.',
  EPARSE:
    'The KFD topology under /sys/class/kfd/kfd/topology could not be read consistently: retry, and check dmesg for amdgpu errors.',
  EKERNEL: 'The kernel returned an errno this package does not know; see `errno` and `dmesg`.',
};

/** The default hint for a code. */
export function defaultHint(code: SvmErrorCode): string {
  return DEFAULT_HINTS[code];
}

/** What the API was doing when a backend call failed: chooses the precise code and hint. */
export interface ErrorContext {
  /** A short description for the message, e.g. 'prefetch' or 'open /dev/kfd'. */
  op: string;
  /** True when the device has no GPU VM, so an EINVAL from an SVM SET means exactly that. */
  noGpuVm?: boolean;
  /** For EACCES on a device node: the group that owns it, when known. */
  group?: string | undefined;
}

function isKnownErrno(code: string): code is ErrnoName {
  return Object.prototype.hasOwnProperty.call(Errno, code);
}

/**
 * The one mapping from whatever a backend threw to an {@link SvmError}. A KernelError keeps its errno,
 * syscall and request; the code is the errno's name, refined by context:
 * - EPERM from AMDKFD_IOC_SVM, or from the XNACK *query*, means a kernel without CONFIG_HSA_AMD_SVM
 *   (kfd_chardev.c compiles `kfd_ioctl_svm() { return -EPERM; }` then) → 'ENOSVM'. EPERM from an XNACK
 *   *set* on an SVM kernel means a GPU cannot run with XNACK (kfd_ioctl_set_xnack_mode) and stays 'EPERM'.
 * - EINVAL from an SVM SET when no GPU VM exists (svm_range_set_attr: `if (!process_info) return -EINVAL`)
 *   → 'ENOGPU'.
 * - ENOENT/ENODEV/ENXIO opening /dev/kfd → 'ENODEV'; EACCES/EPERM opening a node → 'EACCES'.
 * An SvmError passes through; anything else (a RangeError from a backend's argument check, a bug) is
 * wrapped as 'EARG' or rethrown untouched if it is not an Error at all.
 */
export function toSvmError(e: unknown, ctx: ErrorContext): SvmError {
  if (e instanceof SvmError) return e;
  if (isKernelError(e)) return fromKernelError(e, ctx);
  if (e instanceof RangeError || e instanceof TypeError) {
    return new SvmError('EARG', `${ctx.op}: ${e.message}`, { cause: e });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new SvmError('EKERNEL', `${ctx.op}: ${message}`, { cause: e });
}

function fromKernelError(e: KernelError, ctx: ErrorContext): SvmError {
  const details = { errno: e.errno, syscall: e.syscall, request: e.request, cause: e };
  const where = `${ctx.op}: ${e.message}`;
  const isOpen = e.syscall === 'open';
  if (isOpen && (e.code === 'ENOENT' || e.code === 'ENODEV' || e.errno === 6 /* ENXIO */)) {
    return new SvmError('ENODEV', where, {
      ...details,
      hint: e.request?.includes('/dev/dri/')
        ? `The render node ${e.request} is missing: the amdgpu driver did not create it for this GPU (check dmesg).`
        : undefined,
    });
  }
  if (isOpen && (e.code === 'EACCES' || e.code === 'EPERM')) {
    const group = ctx.group ?? 'render';
    return new SvmError('EACCES', where, {
      ...details,
      hint: `Permission denied on ${e.request ?? 'the device node'}: join the '${group}' group (sudo usermod -aG ${group} $USER) and log in again.`,
    });
  }
  if (e.code === 'EPERM' && e.request === 'AMDKFD_IOC_SVM') return new SvmError('ENOSVM', where, details);
  if (e.code === 'EPERM' && e.request === 'AMDKFD_IOC_SET_XNACK_MODE') {
    if (ctx.op === 'xnack query') return new SvmError('ENOSVM', where, details);
    return new SvmError('EPERM', where, {
      ...details,
      hint: 'A GPU of this process cannot run with XNACK enabled (needs an XNACK-capable GPU such as gfx90a or gfx942 on every GPU the process uses).',
    });
  }
  if (e.code === 'EINVAL' && e.request === 'AMDKFD_IOC_SVM' && ctx.noGpuVm) {
    return new SvmError('ENOGPU', where, details);
  }
  if (isKnownErrno(e.code)) return new SvmError(e.code, where, details);
  return new SvmError('EKERNEL', where, details);
}
