/**
 * SMI event streams: one event fd per GPU (AMDKFD_IOC_SMI_EVENTS, mask written at open), read in turn,
 * parsed with the platform parser into typed events, merged into one async iterator.
 *
 * The kernel keeps at most 1 KiB of unread lines per fd (kfd_smi_events.c: MAX_KFIFO_SIZE) and drops
 * what does not fit, so each fd is read as soon as data is there and the lines are queued here; the queue
 * is bounded (HIGH_WATER) and reading pauses while it is full.
 */
import { SmiEvent, smiEventMask } from './backend/abi.js';
import type { SmiEventSource } from './backend/contract.js';
import { SvmError, toSvmError } from './errors.js';
import { describe, resolveGpu, type Gpu, type GpuRef } from './gpu.js';
import { parseSmiEvents, type SmiEventKind, type SmiEventRecord } from './platform/smi-events.js';
import type { RangeHost } from './range-host.js';

/** Event kinds, by the kernel's names (enum kfd_smi_event) in kebab case, as the parser names them. */
export type EventKind = SmiEventKind;

const KIND_IDS: Record<EventKind, number> = {
  vmfault: SmiEvent.VMFAULT,
  'thermal-throttle': SmiEvent.THERMAL_THROTTLE,
  'gpu-pre-reset': SmiEvent.GPU_PRE_RESET,
  'gpu-post-reset': SmiEvent.GPU_POST_RESET,
  'migrate-start': SmiEvent.MIGRATE_START,
  'migrate-end': SmiEvent.MIGRATE_END,
  'page-fault-start': SmiEvent.PAGE_FAULT_START,
  'page-fault-end': SmiEvent.PAGE_FAULT_END,
  'queue-eviction': SmiEvent.QUEUE_EVICTION,
  'queue-restore': SmiEvent.QUEUE_RESTORE,
  'unmap-from-gpu': SmiEvent.UNMAP_FROM_GPU,
};

/** Every event kind. */
export const EVENT_KINDS: readonly EventKind[] = Object.keys(KIND_IDS) as EventKind[];

/** The SMI mask bits of a list of kinds. */
export function eventMask(kinds: readonly EventKind[]): bigint {
  return smiEventMask(...kinds.map((k) => KIND_IDS[k]));
}

/** Options of `device.events()`. */
export interface EventOptions {
  /** GPUs to listen on (default: every GPU of the device). */
  gpus?: readonly GpuRef[];
  /** Kinds to ask the kernel for (default: all). */
  kinds?: readonly EventKind[];
  /**
   * Ask for every process's events on these GPUs, not only this process's (the ALL_PROCESS bit of the
   * mask). The kernel honours it only for a client opened with CAP_SYS_ADMIN (root) and otherwise accepts
   * the bit and ignores it: the stream then carries this process's events alone (kfd_smi_ev_enabled).
   * Each event's `pid` says whose it is. Default false.
   */
  allProcesses?: boolean;
  /** Aborting ends the stream, as `close()` does. */
  signal?: AbortSignal;
}

/** A typed event: the parsed record, plus the GPU whose event fd delivered it. */
export type SvmEvent = SmiEventRecord & {
  /** The GPU whose event fd delivered it (the kernel reports a migration on the GPU node that migrates). */
  readonly gpu: Gpu;
};

const HIGH_WATER = 4096;

/**
 * An async iterator of {@link SvmEvent}s. `for await (const e of stream)` reads them; `break`, `close()`,
 * an abort of the signal, or closing the device end it cleanly and close every event fd.
 */
export class SvmEventStream implements AsyncIterableIterator<SvmEvent> {
  #queue: SvmEvent[] = [];
  #waiters: Array<(r: IteratorResult<SvmEvent>) => void> = [];
  #rejecters: Array<(e: unknown) => void> = [];
  #space: Array<() => void> = [];
  #sources: Array<{ gpu: Gpu; src: SmiEventSource }> = [];
  #live = 0;
  #closed = false;
  #detached = false;
  #error: SvmError | undefined;
  #onClose: () => void;
  #signal: AbortSignal | undefined;
  #abort = (): void => this.close();

  /** @internal Use `device.events()`. */
  constructor(sources: Array<{ gpu: Gpu; src: SmiEventSource }>, signal: AbortSignal | undefined, onClose: () => void) {
    this.#sources = sources;
    this.#onClose = onClose;
    this.#signal = signal;
    this.#live = sources.length;
    signal?.addEventListener('abort', this.#abort, { once: true });
    for (const s of sources) void this.#pump(s.gpu, s.src);
    // With no source the stream is over at once; settle after the caller has taken the stream.
    if (sources.length === 0) queueMicrotask(() => this.#settle());
  }

  /** True once the stream ended (closed, aborted, or every source ended). */
  get closed(): boolean {
    return this.#closed;
  }

  async #pump(gpu: Gpu, src: SmiEventSource): Promise<void> {
    let rest = '';
    try {
      for (;;) {
        while (this.#queue.length >= HIGH_WATER && !this.#closed) {
          await new Promise<void>((r) => this.#space.push(r));
        }
        if (this.#closed) break;
        const chunk = await src.read();
        if (chunk === '') break;
        // The kernel hands out whole lines; keep a partial tail anyway rather than misparse it.
        const text = rest + chunk;
        const cut = text.lastIndexOf('\n') + 1;
        rest = text.slice(cut);
        if (cut === 0 || this.#closed) continue;
        for (const rec of parseSmiEvents(text.slice(0, cut))) this.#push({ ...rec, gpu });
      }
    } catch (e) {
      if (!this.#closed) this.#error ??= toSvmError(e, { op: `events of GPU ${gpu.gpuId}` });
    } finally {
      src.close();
      this.#live--;
      this.#settle();
    }
  }

  #push(ev: SvmEvent): void {
    const w = this.#waiters.shift();
    if (w) {
      this.#rejecters.shift();
      w({ value: ev, done: false });
    } else this.#queue.push(ev);
  }

  /** Wakes waiters once nothing more can come (every source ended or failed). */
  #settle(): void {
    if (this.#live > 0 && !this.#closed) return;
    this.#detach();
    if (this.#error && !this.#closed) {
      const err = this.#error;
      const rejecters = this.#rejecters.splice(0);
      this.#waiters.length = 0;
      if (rejecters.length > 0) this.#error = undefined; // delivered once; later next() calls are done
      for (const r of rejecters) r(err);
      return;
    }
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
    this.#rejecters.length = 0;
  }

  /** The next event; `done` once the stream ended. Rejects with SvmError if an event fd failed. */
  next(): Promise<IteratorResult<SvmEvent>> {
    const ev = this.#queue.shift();
    if (ev) {
      this.#space.shift()?.();
      return Promise.resolve({ value: ev, done: false });
    }
    if (this.#closed || this.#live === 0) {
      if (this.#error && !this.#closed) {
        const err = this.#error;
        this.#error = undefined;
        return Promise.reject(err);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push(resolve);
      this.#rejecters.push(reject);
    });
  }

  /** Called by `break` in `for await`: closes the stream. */
  return(): Promise<IteratorResult<SvmEvent>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Ends the stream and closes every event fd; pending `next()` calls resolve `done`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    for (const { src } of this.#sources) src.close();
    for (const r of this.#space.splice(0)) r();
    this.#settle();
  }

  /** Once nothing more can come: stop listening to the signal and let the device forget the stream. */
  #detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.#signal?.removeEventListener('abort', this.#abort);
    this.#onClose();
  }

  /** The stream is its own iterator: `for await (const e of stream)`. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** `await using stream = device.events()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** @internal Opens one event fd per GPU; on a failure closes the ones opened and throws SvmError. */
export function openEventStream(host: RangeHost, options: EventOptions, onClose: () => void): SvmEventStream {
  if (typeof options !== 'object' || options === null) {
    throw new SvmError('EARG', `events: expected an options object, got ${describe(options)}`);
  }
  const gpus = options.gpus === undefined ? host.gpus : options.gpus.map((g) => resolveGpu(host.gpus, g, 'events'));
  const kinds = options.kinds ?? EVENT_KINDS;
  for (const k of kinds) {
    if (!Object.prototype.hasOwnProperty.call(KIND_IDS, k)) {
      throw new SvmError('EARG', `events: unknown kind ${describe(k)} (known: ${EVENT_KINDS.join(', ')})`);
    }
  }
  if (options.allProcesses !== undefined && typeof options.allProcesses !== 'boolean') {
    throw new SvmError('EARG', `events: allProcesses must be a boolean, got ${describe(options.allProcesses)}`);
  }
  const mask = eventMask(kinds) | (options.allProcesses ? smiEventMask(SmiEvent.ALL_PROCESS) : 0n);
  const opened: Array<{ gpu: Gpu; src: SmiEventSource }> = [];
  try {
    for (const gpu of new Set(gpus)) {
      opened.push({ gpu, src: host.call('events', () => host.impl.openSmiEvents(gpu.gpuId, mask)) });
    }
  } catch (e) {
    for (const o of opened) o.src.close();
    throw e;
  }
  const stream = new SvmEventStream(opened, options.signal, onClose);
  if (options.signal?.aborted) stream.close();
  return stream;
}
