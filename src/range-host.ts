/**
 * @internal What a Device offers the ranges it created. Kept as an interface so svm-buffer.ts does not
 * import device.ts (and the dependency arrows stay one way: device → svm-buffer → range-host).
 */
import type { Backend } from './backend/contract.js';
import type { Gpu } from './gpu.js';
import type { SvmRange } from './svm-buffer.js';

export interface RangeHost {
  readonly impl: Backend;
  readonly gpus: readonly Gpu[];
  readonly closed: boolean;
  /** Runs a synchronous backend call, mapping what it throws through toSvmError. */
  call<T>(op: string, fn: () => T): T;
  /**
   * Runs an asynchronous backend call after every earlier one of the device has settled (so calls take
   * effect in the order they were made), unless the device closed or the range was freed meanwhile.
   */
  enqueue(op: string, range: SvmRange, fn: () => Promise<void>): Promise<void>;
  /** Forgets a freed range and unmaps its memory once no call on the device is running. */
  release(range: SvmRange): void;
}
