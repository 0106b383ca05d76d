/**
 * Collecting SMI events for the checks: open a stream before the operations, then wait (up to a limit:
 * on hardware the kernel queues events asynchronously) until the events wanted have arrived.
 */
import type { Device, EventKind, Gpu, SvmEvent } from '../index.js';

export interface Collector {
  /** Waits until `done(events)` holds or `ms` pass; returns everything seen so far. */
  waitFor(done: (events: readonly SvmEvent[]) => boolean, ms: number): Promise<SvmEvent[]>;
  /** Why the stream ended early (an event fd that failed), if it did. */
  readonly error: unknown;
  close(): void;
}

export function collectEvents(device: Device, gpus: readonly Gpu[], kinds: readonly EventKind[]): Collector {
  const stream = device.events({ gpus, kinds });
  const seen: SvmEvent[] = [];
  let wake: (() => void) | undefined;
  let error: unknown;
  const pump = (async () => {
    for await (const e of stream) {
      seen.push(e);
      wake?.();
    }
  })().catch((e: unknown) => {
    error = e;
    wake?.();
  });
  return {
    get error() {
      return error;
    },
    async waitFor(done, ms) {
      const deadline = Date.now() + ms;
      while (!done(seen) && Date.now() < deadline && !stream.closed && error === undefined) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(1, Math.min(50, deadline - Date.now())));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
      }
      // The deadline is wall-clock time: on a loaded machine this process may be descheduled past it while
      // events already delivered still wait in the stream's queue. Let those in before answering.
      if (!done(seen)) await new Promise<void>((resolve) => setImmediate(resolve));
      return [...seen];
    },
    close() {
      stream.close();
      void pump;
    },
  };
}
