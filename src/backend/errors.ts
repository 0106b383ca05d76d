import { errnoName } from './abi.js';

/**
 * What a backend throws when the kernel (or the simulator standing in for it) refuses a call.
 * Both backends throw this one class with the same fields, so the API above maps them identically.
 */
export class KernelError extends Error {
  override readonly name = 'KernelError';
  /** Symbolic errno, e.g. 'EINVAL'. */
  readonly code: string;
  /** Positive errno, as the kernel returned it (negated) and libc stored it. */
  readonly errno: number;
  /** The system call: 'ioctl', 'open', 'mmap', 'read', 'write'. */
  readonly syscall: string;
  /** The KFD request or other detail, e.g. 'AMDKFD_IOC_SVM' or a path. */
  readonly request: string | undefined;

  constructor(errno: number, syscall: string, request?: string, detail?: string) {
    const code = errnoName(errno);
    super(`${syscall}${request ? ` ${request}` : ''} failed: ${code}${detail ? ` (${detail})` : ''}`);
    this.errno = Math.abs(errno);
    this.code = code;
    this.syscall = syscall;
    this.request = request;
  }
}

export function isKernelError(e: unknown): e is KernelError {
  return e instanceof KernelError;
}

/**
 * What `MappedMemory.buffer` throws where the runtime forbids external ArrayBuffers (Electron 21+: V8's
 * memory cage keeps every ArrayBuffer inside the cage, and napi_create_external_arraybuffer answers
 * napi_no_external_buffers_allowed), or the addon was built for such a runtime
 * (NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED). The memory is mapped all the same: `read()`/`write()` copy.
 */
export class ExternalBuffersForbiddenError extends Error {
  override readonly name = 'ExternalBuffersForbiddenError';
}
