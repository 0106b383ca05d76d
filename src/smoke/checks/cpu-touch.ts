import { check, skip } from '../assert.js';
import { migrateView } from '../event-fields.js';
import { collectEvents, type Collector } from '../event-view.js';
import { allIn, describeResidency, residency } from '../sim-view.js';
import type { CheckOutput } from '../types.js';
import type { Device, Gpu, SvmBuffer } from '../../index.js';

const TRIGGER_PAGEFAULT_CPU = 2;
/** One 2 MiB granule: the CPU fault brings back exactly the buffer. */
export const GRANULE = 2 * 1024 * 1024;

/**
 * Runs `body` on a new 2 MiB-aligned granule for a GPU that can hold pages (SVM support, not an APU), with
 * that GPU's SMI migrate events collected on hardware; frees both after.
 */
export async function onGpuGranule(
  device: Device,
  gpu: Gpu,
  body: (buf: SvmBuffer, events: Collector | undefined) => Promise<void>,
): Promise<void> {
  if (!gpu.svmCapable) skip(`GPU ${gpu.gpuId} has no SVM support`);
  if (gpu.apu) skip('an APU: one memory, the pages never leave it');
  const buf = await device.alloc(GRANULE, { align2M: true });
  const events = device.sim ? undefined : collectEvents(device, [gpu], ['migrate-start', 'migrate-end']);
  try {
    await body(buf, events);
  } finally {
    events?.close();
    buf.free();
  }
}

/** After a prefetch to the GPU: pages still in system memory (the sim shows it) mean one memory, an APU. */
export function skipUnlessMoved(device: Device, buf: SvmBuffer): void {
  const before = residency(device, buf);
  if (before && allIn(before, 'system')) skip('an APU: one memory, the pages never leave it');
}

/**
 * What a CPU touch of a buffer's pages on a GPU must have done: on a coherent link the CPU used VRAM in place
 * and nothing moved (MEMORY_DEVICE_COHERENT); over PCIe the pages are MEMORY_DEVICE_PRIVATE and the CPU
 * fault brought them back (kfd_migrate.c: svm_migrate_to_ram, trigger PAGEFAULT_CPU). The sim shows where the
 * pages are; on hardware the SMI migrate events tell. `what` names the touch in the messages.
 */
export async function checkCpuTouch(
  device: Device,
  gpu: Gpu,
  buf: SvmBuffer,
  events: Collector | undefined,
  eventWaitMs: number,
  out: CheckOutput,
  what: string,
): Promise<void> {
  const after = residency(device, buf);
  if (after) {
    out.diag('after', describeResidency(after));
    if (gpu.coherent) {
      check(allIn(after, 'device-coherent', gpu.gpuId), `${what} moved pages off a coherent GPU (expected in-place access)`, { pages: describeResidency(after) });
    } else {
      check(allIn(after, 'system'), `${what} left pages in device-private VRAM (expected fault-back to system memory)`, { pages: describeResidency(after) });
    }
    return;
  }
  // Hardware: look for the CPU-fault migration back to system memory.
  const firstPage = Number(buf.address / 4096n);
  const lastPage = firstPage + buf.size / 4096;
  const isFaultBack = (e: Parameters<typeof migrateView>[0]): boolean => {
    const m = migrateView(e);
    return !!m && m.kind === 'migrate-start' && m.trigger === TRIGGER_PAGEFAULT_CPU && m.from === gpu.gpuId && m.to === 0 && m.startPage < lastPage && m.startPage + m.pages > firstPage;
  };
  const seen = await events!.waitFor((evs) => evs.some(isFaultBack), gpu.coherent ? Math.min(eventWaitMs, 500) : eventWaitMs);
  if (events!.error !== undefined) throw events!.error;
  const faulted = seen.some(isFaultBack);
  out.diag('cpuFaultMigration', faulted);
  if (gpu.coherent) check(!faulted, `${what} of a coherent GPU's pages migrated them (expected in-place access)`);
  else check(faulted, `no CPU-fault migration event within ${eventWaitMs} ms after ${what} of pages in device-private VRAM`);
}
