/**
 * How a smoke check says what went wrong: a CheckFailure carries the message and the diagnostics that the
 * TAP YAML block and the JSON report show; a CheckSkip ends the check as skipped with a reason.
 */
import type { DiagValue } from '../report/node-report.js';

export class CheckFailure extends Error {
  override readonly name = 'CheckFailure';
  constructor(
    message: string,
    readonly diagnostics: Record<string, DiagValue> = {},
  ) {
    super(message);
  }
}

export class CheckSkip extends Error {
  override readonly name = 'CheckSkip';
}

export function fail(message: string, diagnostics?: Record<string, DiagValue>): never {
  throw new CheckFailure(message, diagnostics);
}

export function skip(reason: string): never {
  throw new CheckSkip(reason);
}

export function check(condition: boolean, message: string, diagnostics?: Record<string, DiagValue>): asserts condition {
  if (!condition) throw new CheckFailure(message, diagnostics);
}

/** A printable form of any value for diagnostics (Gpu objects by gpu_id, bigints in hex). */
export function show(v: unknown): string {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (typeof v === 'object' && v !== null && 'gpuId' in v) return `gpu ${(v as { gpuId: number }).gpuId}`;
  if (typeof v === 'string') return v;
  return JSON.stringify(v) ?? String(v);
}

export function checkEqual<T>(actual: T, expected: T, what: string): void {
  if (show(actual) !== show(expected)) {
    throw new CheckFailure(`${what}: expected ${show(expected)}, got ${show(actual)}`, { expected: show(expected), actual: show(actual) });
  }
}

interface ErrorFields {
  code?: unknown;
  errno?: unknown;
  message?: unknown;
}

/**
 * Runs `fn`, which must fail with the given errno (and code, when given). Returns the error. Anything
 * that succeeded is handed to `cleanup` first so a wrongly accepted call leaves nothing behind.
 */
export async function checkRejects<T>(
  fn: () => Promise<T>,
  want: { errno: number; code?: string },
  what: string,
  cleanup?: (value: T) => void,
): Promise<ErrorFields> {
  let value: T;
  try {
    value = await fn();
  } catch (e) {
    const err = (typeof e === 'object' && e !== null ? e : { message: String(e) }) as ErrorFields;
    if (err.errno !== want.errno || (want.code !== undefined && err.code !== want.code)) {
      throw new CheckFailure(`${what}: expected errno ${want.errno}${want.code ? ` (${want.code})` : ''}, got ${String(err.code ?? 'no code')} errno ${String(err.errno ?? 'none')}: ${String(err.message)}`, {
        expectedErrno: want.errno,
        actualErrno: typeof err.errno === 'number' ? err.errno : -1,
        actualCode: String(err.code ?? ''),
      });
    }
    return err;
  }
  cleanup?.(value);
  throw new CheckFailure(`${what}: expected errno ${want.errno}${want.code ? ` (${want.code})` : ''}, but the call succeeded`, { expectedErrno: want.errno });
}
