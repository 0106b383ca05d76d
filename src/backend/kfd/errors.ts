/**
 * The addon reports a failed system call as an Error with `kfdSvmSyscallError: true` and the fields of a
 * KernelError; here it becomes the KernelError both backends throw. Argument errors (TypeError,
 * RangeError) pass through unchanged.
 */
import { KernelError } from '../errors.js';

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
