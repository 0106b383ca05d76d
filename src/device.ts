/**
 * Device: one open KFD (kernel or simulator) with the machine it describes, the process-wide settings
 * (XNACK), allocation and registration of SVM ranges, and event streams. Written once against the backend
 * contract; the only place that looks at the backend's kind is the sim-only `sim` accessor.
 */
import { PAGE_SIZE } from './backend/abi.js';
import type { Backend, BackendKind, KfdVersion } from './backend/contract.js';
import { SvmError, toSvmError } from './errors.js';
import { openEventStream, type EventOptions, type SvmEventStream } from './events.js';
import { describe, resolveGpu, type Cpu, type Gpu, type GpuRef, type SpmRange } from './gpu.js';
import type { RangeHost } from './range-host.js';
import { SvmBuffer, SvmRange, rangeFreed, rangeMemory } from './svm-buffer.js';
import type { SimIntrospection } from './sim-introspection.js';

/** Options of `device.alloc()`. */
export interface DeviceAllocOptions {
  /** Align the memory to 2 MiB (the default migration granularity), so whole granules and huge pages fit. */
  align2M?: boolean;
}

/** @internal What open() hands the Device. */
export interface DeviceInit {
  /** The opened backend. */
  backend: Backend;
  /** The machine, from discover.ts. */
  gpus: readonly Gpu[];
  /** CPU nodes. */
  cpus: readonly Cpu[];
  /** Soft Reserved ranges. */
  spmRanges: readonly SpmRange[];
  /** gpu_ids whose VM was acquired. */
  vmGpuIds: readonly number[];
  /** Why `auto` fell back to the simulator, if it did. */
  fallbackReason: string | undefined;
  /** Warnings from discovery (e.g. hidden iomem addresses). */
  notes: readonly string[];
  /** Called once the device is closed. */
  onClosed?: () => void;
}

const MAX_U64 = (1n << 64n) - 1n;

const backends = new WeakMap<Device, Backend>();

/**
 * @internal The backend under a device, at ioctl level: for the contract suite's kernel-level cases and
 * for tools. Not exported from the package entry.
 */
export function backendOf(device: Device): Backend {
  const b = backends.get(device);
  if (!b) throw new SvmError('EARG', 'backendOf: not a Device');
  return b;
}

/**
 * An open device. Get one with `open()`; close it with `await device.close()` or `await using`.
 * Every method throws SvmError 'ECLOSED' after close.
 */
export class Device {
  #impl: Backend;
  #host: RangeHost;
  /** Which backend answers: the kernel ('kfd') or the simulator ('sim'). */
  readonly backend: BackendKind;
  /** Why `open({ backend: 'auto' })` fell back to the simulator; undefined when it did not. */
  readonly fallbackReason: string | undefined;
  /** The KFD ioctl interface version (1.17 on Linux 6.12). */
  readonly version: Readonly<KfdVersion>;
  /** The machine's GPUs, in topology order. */
  readonly gpus: readonly Gpu[];
  /** The machine's CPU nodes. */
  readonly cpus: readonly Cpu[];
  /** Special-purpose memory ranges (coherent VRAM), each tied to its GPU where known. */
  readonly spmRanges: readonly SpmRange[];
  /** Notes from discovery a person may want to see (e.g. "iomem addresses hidden"). */
  readonly notes: readonly string[];

  #vmGpuIds: readonly number[];
  #closed = false;
  #closing: Promise<void> | undefined;
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #ranges = new Set<SvmRange>();
  #streams = new Set<SvmEventStream>();
  #onClosed: (() => void) | undefined;

  /** @internal Use `open()`. */
  constructor(init: DeviceInit) {
    this.#impl = init.backend;
    this.backend = init.backend.kind;
    this.version = Object.freeze({ ...init.backend.version() });
    this.gpus = Object.freeze([...init.gpus]);
    this.cpus = Object.freeze([...init.cpus]);
    this.spmRanges = Object.freeze([...init.spmRanges]);
    this.notes = Object.freeze([...init.notes]);
    this.#vmGpuIds = Object.freeze([...init.vmGpuIds]);
    this.#onClosed = init.onClosed;
    backends.set(this, init.backend);
    // What the ranges of this device may use; kept off the public surface.
    const self = this;
    this.#host = {
      impl: init.backend,
      gpus: this.gpus,
      get closed() {
        return self.#closed;
      },
      call: (op, fn) => this.#call(op, fn),
      enqueue: (op, range, fn) => this.#enqueue(op, range, fn),
      release: (range) => this.#release(range),
    };
    this.fallbackReason = init.fallbackReason;
  }

  /** True after `close()` started. */
  get closed(): boolean {
    return this.#closed;
  }

  /** gpu_ids of the GPUs whose VM this process acquired (the kernel needs one before any SVM SET). */
  get vmGpuIds(): readonly number[] {
    return this.#vmGpuIds;
  }

  /**
   * Sim-only introspection (page-state snapshots, counters, GPU touches, the simulated clock), or
   * `undefined` on the kernel. Plainly not part of the kernel contract.
   */
  get sim(): SimIntrospection | undefined {
    this.#check('sim');
    return this.#impl.kind === 'sim' ? (this.#impl as unknown as SimIntrospection) : undefined;
  }

  #check(op: string): void {
    if (this.#closed) throw new SvmError('ECLOSED', `${op}: the device is closed`);
  }

  #call<T>(op: string, fn: () => T): T {
    this.#check(op);
    try {
      return fn();
    } catch (e) {
      throw toSvmError(e, { op });
    }
  }

  #enqueue(op: string, range: SvmRange | undefined, fn: () => Promise<void>, wellFormed = true): Promise<void> {
    this.#check(op);
    this.#pending++;
    const run = async (): Promise<void> => {
      try {
        if (this.#closed) throw new SvmError('ECLOSED', `${op}: the device was closed before the call ran`);
        if (range && rangeFreed(range)) throw new SvmError('EFREED', `${op}: the buffer was freed before the call ran`);
        await fn();
      } catch (e) {
        // EINVAL means "no GPU VM" only when the kernel's earlier checks (alignment, non-zero) passed.
        throw toSvmError(e, { op, noGpuVm: wellFormed && this.#vmGpuIds.length === 0 });
      } finally {
        this.#pending--;
      }
    };
    const p = this.#tail.then(run);
    this.#tail = p.catch(() => undefined);
    return p;
  }

  #release(range: SvmRange): void {
    this.#ranges.delete(range);
    const memory = rangeMemory(range);
    if (!memory) return;
    // A call on the device may still be running in the kernel over this memory: unmap after it settles.
    if (this.#pending === 0) memory.free();
    else this.#tail = this.#tail.then(() => memory.free());
  }

  /** The Gpu for a gpu_id (or a Gpu object), or SvmError 'EUNKNOWNGPU'. */
  gpu(ref: GpuRef): Gpu {
    this.#check('gpu');
    return resolveGpu(this.gpus, ref);
  }

  /** The process's XNACK mode (AMDKFD_IOC_SET_XNACK_MODE with -1). */
  get xnack(): boolean {
    return this.#call('xnack query', () => this.#impl.getXnack());
  }

  /**
   * Sets the process's XNACK mode. EBUSY once the process has user-mode queues; EPERM when a GPU of the
   * process cannot run with XNACK (kfd_ioctl_set_xnack_mode).
   */
  setXnack(enabled: boolean): void {
    this.#check('setXnack');
    if (typeof enabled !== 'boolean') throw new SvmError('EARG', `setXnack: expected a boolean, got ${describe(enabled)}`);
    this.#call('setXnack', () => this.#impl.setXnack(enabled));
  }

  /** Bytes of VRAM the process can still allocate on a GPU (AMDKFD_IOC_AVAILABLE_MEMORY). */
  availableMemory(gpu: GpuRef): number {
    this.#check('availableMemory');
    const g = resolveGpu(this.gpus, gpu, 'availableMemory');
    return Number(this.#call('availableMemory', () => this.#impl.availableMemory(g.gpuId)));
  }

  /**
   * Allocates page-aligned memory (size rounded up to 4096) and registers it as one SVM range with the
   * kernel's default attributes (an SVM SET with no attributes). On a machine without a GPU the kernel
   * refuses the registration: SvmError 'ENOGPU'.
   */
  async alloc(size: number, options: DeviceAllocOptions = {}): Promise<SvmBuffer> {
    this.#check('alloc');
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) {
      throw new SvmError('EARG', `alloc: size must be a positive integer number of bytes, got ${describe(size)}`);
    }
    const rounded = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    const memory = this.#call('alloc', () => this.#impl.alloc(rounded, { align2M: options.align2M === true }));
    try {
      await this.#enqueue('alloc', undefined, () => this.#impl.svmSetAttr(memory.address, BigInt(memory.size), []));
    } catch (e) {
      memory.free();
      throw e;
    }
    const buf = new SvmBuffer(this.#host, memory);
    this.#ranges.add(buf);
    return buf;
  }

  /**
   * Registers memory mapped elsewhere (by this process) as an SVM range with default attributes. The
   * kernel checks it: unaligned or zero → EINVAL, not fully mapped (or device/IO memory) → EFAULT.
   * The returned range has no `bytes`; freeing it leaves the memory mapped.
   */
  async register(address: bigint, size: number): Promise<SvmRange> {
    this.#check('register');
    if (typeof address !== 'bigint' || address < 0n || address > MAX_U64) {
      throw new SvmError('EARG', `register: address must be a bigint in [0, 2^64), got ${describe(address)}`);
    }
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new SvmError('EARG', `register: size must be a non-negative integer number of bytes, got ${describe(size)}`);
    }
    const wellFormed = address !== 0n && size !== 0 && address % BigInt(PAGE_SIZE) === 0n && size % PAGE_SIZE === 0;
    await this.#enqueue('register', undefined, () => this.#impl.svmSetAttr(address, BigInt(size), []), wellFormed);
    const range = new SvmRange(this.#host, address, size);
    this.#ranges.add(range);
    return range;
  }

  /**
   * Streams SMI events of the given GPUs (default: all) and kinds (default: the SVM ones) as an async
   * iterator. Ends cleanly on `stream.close()`, on `break` out of `for await`, on `signal` abort, and on
   * device close; every event fd is closed then.
   */
  events(options: EventOptions = {}): SvmEventStream {
    this.#check('events');
    const stream = openEventStream(this.#host, options, () => this.#streams.delete(stream));
    this.#streams.add(stream);
    return stream;
  }

  /**
   * Closes the device: ends event streams, lets a running call finish, frees every range still allocated,
   * and closes the backend (/dev/kfd and the render nodes). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    for (const s of [...this.#streams]) s.close();
    await this.#tail;
    for (const r of [...this.#ranges]) {
      this.#ranges.delete(r);
      rangeMemory(r)?.free();
    }
    this.#impl.close();
    this.#onClosed?.();
  }

  /** `await using device = await open()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
