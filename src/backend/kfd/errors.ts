/**
 * Failed system calls reach the kfd backend in two ways, and both become the KernelError both backends
 * throw:
 * - the per-operation ioctls run in the addon's errno mode and return -errno; `refusedIoctl()` builds the
 *   one KernelError for it (no error object exists before it, so no stack is captured twice);
 * - the rest (open, ACQUIRE_VM, SMI, mmap) throw an Error with `kfdSvmSyscallError: true` and the fields of
 *   a KernelError, which `native()` / `nativeAsync()` convert.
 * Argument errors (TypeError, RangeError) pass through unchanged.
 */
import { Errno } from '../abi.js';
import { KernelError } from '../errors.js';

/** The detail a closed handle's EBADF carries (the addon's throwing mode says the same: native/errors.cc). */
export const HANDLE_CLOSED = 'the handle is closed';

/**
 * The KernelError for an ioctl the addon answered with `negErrno` (-errno) in errno mode. `isOpen` is asked
 * only for EBADF, to tell a closed handle (which gets HANDLE_CLOSED) from the kernel's own EBADF.
 */
export function refusedIoctl(negErrno: number, request: string, isOpen: () => boolean): KernelError {
  const errno = -negErrno;
  return new KernelError(errno, 'ioctl', request, errno === Errno.EBADF && !isOpen() ? HANDLE_CLOSED : undefined);
}

interface NativeSyscallError {
  kfdSvmSyscallError: true;
  errno: number;
  syscall: string;
  request?: string;
  hint?: string;
}

function isNativeSyscallError(e: unknown): e is NativeSyscallError {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return o.kfdSvmSyscallError === true && typeof o.errno === 'number' && typeof o.syscall === 'string';
}

/** A KernelError for an addon syscall error; anything else unchanged. */
export function toKernelError(e: unknown): unknown {
  if (!isNativeSyscallError(e)) return e;
  return new KernelError(e.errno, e.syscall, e.request, e.hint);
}

/** Runs a sync addon call, turning its syscall errors into KernelError. */
export function native<T>(call: () => T): T {
  try {
    return call();
  } catch (e) {
    throw toKernelError(e);
  }
}

/** Awaits an async addon call (a sync throw becomes a rejection), turning syscall errors into KernelError. */
export async function nativeAsync<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw toKernelError(e);
  }
}
