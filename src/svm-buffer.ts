/**
 * SVM ranges and buffers: a registered range of the process's address space, and the attributes, prefetch
 * and CPU access calls over it. Every call goes through the device's backend; nothing here knows which
 * backend that is.
 */
import type { MappedMemory, SvmAttribute } from './backend/contract.js';
import { ExternalBuffersForbiddenError, isKernelError } from './backend/errors.js';
import { viewByteLength } from './backend/views.js';
import {
  decodeGetAnswer,
  encodeSetAttributes,
  getQuery,
  type SvmAttributeState,
  type SvmAttributes,
} from './attributes.js';
import { SvmError, toSvmError } from './errors.js';
import type { GpuRef } from './gpu.js';
import { resolveSpan, type Span } from './span.js';
import type { RangeHost } from './range-host.js';

// Module-private accessors to private state, set by the classes' static blocks: the Device needs them,
// users must not reach them.
let freedOf: (r: SvmRange) => boolean;
let checkOf: (r: SvmRange, op: string) => void;
let memoryOf: (b: SvmBuffer) => MappedMemory;

/** A CPU touch: read or write. */
export type CpuAccessMode = 'read' | 'write';

/** Where `prefetch` moves pages to: system memory or a GPU. */
export type PrefetchTarget = 'system' | GpuRef;

/**
 * A range of this process's memory registered with the kernel as an SVM range: what `device.register()`
 * returns for memory mapped elsewhere. `SvmBuffer` adds the memory itself.
 *
 * Spans are `{ offset, length }` in bytes relative to the range, multiples of 4096, inside the range;
 * omitted, a span is the whole range. Misuse (after free or close, a span outside, an unknown GPU) throws
 * or rejects with an {@link SvmError}; nothing reaches the kernel then.
 */
export class SvmRange {
  #host: RangeHost;
  #address: bigint;
  #size: number;
  #freed = false;

  static {
    freedOf = (r) => r.#freed;
    checkOf = (r, op) => r.#check(op);
  }

  /** @internal Created by Device. */
  constructor(host: RangeHost, address: bigint, size: number) {
    this.#host = host;
    this.#address = address;
    this.#size = size;
  }

  /** The start address (a multiple of 4096). */
  get address(): bigint {
    return this.#address;
  }
  /** The size in bytes (a multiple of 4096). */
  get size(): number {
    return this.#size;
  }
  /** True after `free()` (or after the device closed). */
  get freed(): boolean {
    return this.#freed || this.#host.closed;
  }

  /** Throws ECLOSED / EFREED. */
  #check(op: string): void {
    if (this.#host.closed) throw new SvmError('ECLOSED', `${op}: the device is closed`);
    if (this.#freed) throw new SvmError('EFREED', `${op}: the buffer at 0x${this.#address.toString(16)} was freed`);
  }

  #kernelSpan(span: Span | undefined): [bigint, bigint] {
    const s = resolveSpan(span, this.#size);
    return [this.#address + BigInt(s.offset), BigInt(s.length)];
  }

  /**
   * Sets attributes over the span in ONE kernel call (AMDKFD_IOC_SVM SET_ATTR). A `prefetchLocation`
   * migrates the pages before the promise resolves. Calls on one device run in the order they were made,
   * so the later of two overlapping calls wins.
   */
  async set(attrs: SvmAttributes, span?: Span): Promise<void> {
    this.#check('set');
    const pairs = encodeSetAttributes(attrs, this.#host.gpus);
    const [start, size] = this.#kernelSpan(span);
    await this.#svmSet('set', start, size, pairs);
  }

  /**
   * Reads the attributes over the span (AMDKFD_IOC_SVM GET_ATTR), with the kernel's rules for spans that
   * cover ranges with different attributes: a location that differs is 'undefined', a flag that differs
   * is 'mixed', access is the weakest, granularity the smallest. It reflects calls that have resolved;
   * await a pending `set` or `prefetch` first.
   */
  get(span?: Span): SvmAttributeState {
    this.#check('get');
    const [start, size] = this.#kernelSpan(span);
    const gpus = this.#host.gpus;
    const answer = this.#host.call('get', () => this.#host.impl.svmGetAttr(start, size, getQuery(gpus)));
    return decodeGetAnswer(answer, gpus);
  }

  /**
   * Migrates the span to system memory or a GPU now, and resolves once the pages have moved (the kernel
   * migrates inside the SET_ATTR call). Two prefetches of one span run in call order: the later wins.
   */
  async prefetch(target: PrefetchTarget, span?: Span): Promise<void> {
    this.#check('prefetch');
    const pairs = encodeSetAttributes({ prefetchLocation: target }, this.#host.gpus);
    const [start, size] = this.#kernelSpan(span);
    await this.#svmSet('prefetch', start, size, pairs);
  }

  /**
   * Declares a CPU read or write of the span. On real hardware the MMU and the kernel's fault handler do
   * the work when the CPU touches the memory, so this does nothing there; the simulator applies the
   * kernel's CPU fault rules (pages in device-private VRAM migrate back, coherent ones are used in place)
   * and emits the events. Ordered with `set`/`prefetch` calls of the device.
   */
  async access(span: Span | undefined, mode: CpuAccessMode): Promise<void> {
    this.#check('access');
    if (mode !== 'read' && mode !== 'write') {
      throw new SvmError('EARG', `access: mode must be 'read' or 'write', got ${String(mode)}`);
    }
    const [start, size] = this.#kernelSpan(span);
    await this.#host.enqueue('access', this, () => this.#host.impl.cpuAccess(start, size, mode));
  }

  #svmSet(op: string, start: bigint, size: bigint, pairs: SvmAttribute[]): Promise<void> {
    return this.#host.enqueue(op, this, () => this.#host.impl.svmSetAttr(start, size, pairs));
  }

  /**
   * Frees the range: for a buffer from `alloc()` the memory is unmapped and the kernel drops its SVM
   * ranges (its MMU notifier); a call still running on the range finishes first. For a range from
   * `register()` the memory stays mapped (it is not ours) and the kernel keeps its attributes until the
   * owner unmaps it; the handle becomes unusable. Idempotent; every other method throws EFREED after it.
   */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#host.release(this);
  }

  /** `using buf = await device.alloc(n)` frees it at the end of the scope. */
  [Symbol.dispose](): void {
    this.free();
  }
}

/**
 * Memory allocated by `device.alloc()` and registered as an SVM range: `bytes` is the memory itself, and
 * `read()`/`write()` copy out of and into it (the way in where `bytes` cannot exist: Electron 21+).
 */
export class SvmBuffer extends SvmRange {
  #memory: MappedMemory;
  #bytes: Uint8Array | undefined;

  static {
    memoryOf = (b) => b.#memory;
  }

  /** @internal Created by Device. */
  constructor(host: RangeHost, memory: MappedMemory) {
    super(host, memory.address, memory.size);
    this.#memory = memory;
  }

  /**
   * The memory as bytes, with no copy: writes here are writes to the SVM range, and after a prefetch to a
   * coherent GPU the CPU reads VRAM in place. Throws EFREED after free (the view is detached then), and
   * ENOEXTBUF in a runtime that forbids external ArrayBuffers (Electron 21+): use `read()`/`write()` there.
   */
  get bytes(): Uint8Array {
    checkOf(this, 'bytes');
    if (!this.#bytes) {
      let buffer: ArrayBuffer;
      try {
        buffer = this.#memory.buffer;
      } catch (e) {
        const why = `bytes: ${e instanceof Error ? e.message : String(e)}`;
        if (e instanceof ExternalBuffersForbiddenError) throw new SvmError('ENOEXTBUF', why, { cause: e });
        // Larger than the runtime's largest ArrayBuffer, or a simulated mapping too large to back with
        // host memory.
        throw new SvmError('EBACKEND', why, {
          cause: e,
          hint: 'The range still works for set/get/prefetch/access, and read()/write() copy any part of it; its bytes cannot be one ArrayBuffer at this size.',
        });
      }
      this.#bytes = new Uint8Array(buffer);
    }
    return this.#bytes;
  }

  /**
   * Copies bytes out of the buffer, from the byte `offset` (no alignment needed): `read(offset, length)`
   * returns them in a new Uint8Array; `read(offset, target)` fills `target` (a TypedArray, Buffer or
   * DataView) with `target.byteLength` bytes and returns it. A CPU read like any other: pages in
   * device-private VRAM migrate back on the way. Works in every runtime, `bytes` or not.
   * ESPAN when the bytes run past the end; EARG for a bad offset, length or target; ENOMEM when a copy of
   * `length` bytes cannot be allocated; EBACKEND (see #copy); EFREED, ECLOSED.
   */
  read(offset: number, length: number): Uint8Array;
  read<T extends ArrayBufferView>(offset: number, target: T): T;
  read(offset: number, arg: number | ArrayBufferView): ArrayBufferView {
    checkOf(this, 'read');
    checkByteOffset('read', offset);
    if (typeof arg === 'number') {
      if (!Number.isSafeInteger(arg) || arg < 0) {
        throw new SvmError('EARG', `read: length must be a non-negative integer, got ${String(arg)}`);
      }
      this.#checkInside('read', offset, arg);
      let out: Uint8Array;
      try {
        out = new Uint8Array(arg);
      } catch (e) {
        // V8 could not allocate that much (a RangeError): say so in this API's terms.
        throw new SvmError('ENOMEM', `read: cannot allocate ${arg} bytes to copy into`, {
          cause: e,
          hint: 'Read into a target of your own, in pieces: read(offset, target).',
        });
      }
      this.#copy('read', () => this.#memory.read(offset, out));
      return out;
    }
    this.#checkInside('read', offset, viewLength('read', 'target', arg));
    this.#copy('read', () => this.#memory.read(offset, arg));
    return arg;
  }

  /**
   * Copies `source` (a TypedArray, Buffer or DataView) into the buffer at the byte `offset`. The same rules
   * and errors as `read`.
   */
  write(offset: number, source: ArrayBufferView): void {
    checkOf(this, 'write');
    checkByteOffset('write', offset);
    this.#checkInside('write', offset, viewLength('write', 'source', source));
    this.#copy('write', () => this.#memory.write(offset, source));
  }

  #checkInside(op: string, offset: number, length: number): void {
    if (offset > this.size || length > this.size - offset) {
      throw new SvmError('ESPAN', `${op}: ${length} bytes at offset ${offset} run past the end of the buffer (${this.size} bytes)`, {
        hint: 'offset + length must be at most the buffer\'s size; read/write offsets are in bytes and need no alignment.',
      });
    }
  }

  /** The backend's copy, its refusals as SvmErrors (the arguments this API knows were checked above). */
  #copy(op: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (isKernelError(e)) throw toSvmError(e, { op });
      const why = `${op}: ${e instanceof Error ? e.message : String(e)}`;
      // A view the backend cannot copy (the addon knows no Float16Array, say).
      if (e instanceof TypeError) throw new SvmError('EARG', why, { cause: e });
      // A simulated mapping too large to back with host memory, or an addon too old for copies.
      throw new SvmError('EBACKEND', why, {
        cause: e,
        hint: 'On the simulator: ranges above maxBackedBytes have no host memory to write into (reads give zeros). With the kernel: rebuild the native addon (npm run build:native).',
      });
    }
  }
}

function checkByteOffset(op: string, offset: unknown): asserts offset is number {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new SvmError('EARG', `${op}: offset must be a non-negative integer number of bytes, got ${String(offset)}`);
  }
}

/** The byte length of an ArrayBufferView argument; EARG for anything else, or a view of a detached buffer. */
function viewLength(op: string, name: string, v: unknown): number {
  const n = viewByteLength(v);
  if (n === 'not-a-view') throw new SvmError('EARG', `${op}: ${name} must be a TypedArray, Buffer or DataView`);
  if (n === 'detached') throw new SvmError('EARG', `${op}: ${name} is a view of a detached ArrayBuffer`);
  return n;
}

/** @internal True once `free()` was called on the handle (whatever the device's state). */
export function rangeFreed(r: SvmRange): boolean {
  return freedOf(r);
}

/** @internal The memory a range owns (a buffer from `alloc()`), to unmap when it is released. */
export function rangeMemory(r: SvmRange): MappedMemory | undefined {
  return r instanceof SvmBuffer ? memoryOf(r) : undefined;
}
