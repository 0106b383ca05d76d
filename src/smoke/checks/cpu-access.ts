import { check, fail, skip } from '../assert.js';
import { migrateView } from '../event-fields.js';
import { collectEvents } from '../event-view.js';
import { checkPattern, fillPattern } from '../pattern.js';
import { allIn, describeResidency, residency } from '../sim-view.js';
import type { SmokeCheck } from '../types.js';
import { gpuLabel } from './prefetch.js';

const TRIGGER_PAGEFAULT_CPU = 2;
const GRANULE = 2 * 1024 * 1024;

/**
 * A CPU read of pages that sit on the GPU: on a coherent link the CPU reads VRAM in place and nothing
 * moves (MEMORY_DEVICE_COHERENT); over PCIe the pages are MEMORY_DEVICE_PRIVATE and the CPU fault brings
 * them back (kfd_migrate.c: svm_migrate_to_ram, trigger PAGEFAULT_CPU). The sim shows where the pages are;
 * on hardware the SMI migrate events tell.
 */
export const cpuAccessCheck: SmokeCheck = {
  id: 'cpu-access',
  perGpu: true,
  title: (g) => (g ? `CPU access to pages on ${gpuLabel(g)}: ${g.apu ? 'one memory' : g.coherent ? 'in place' : 'faulted back to system memory'}` : 'CPU access to pages on each GPU'),
  async run({ device, eventWaitMs }, gpu, out) {
    if (!gpu) return;
    if (!gpu.svmCapable) skip(`GPU ${gpu.gpuId} has no SVM support`);
    if (gpu.apu) skip('an APU: one memory, the pages never leave it');
    const buf = await device.alloc(GRANULE, { align2M: true });
    const events = device.sim ? undefined : collectEvents(device, [gpu], ['migrate-start', 'migrate-end']);
    try {
      const seed = gpu.gpuId ^ 0xbb67ae85;
      fillPattern(buf.bytes, seed);
      await buf.prefetch(gpu);
      const before = residency(device, buf);
      if (before && allIn(before, 'system')) skip('an APU: one memory, the pages never leave it');
      await buf.access(undefined, 'read');
      // The touch itself: on hardware this is what faults (the MMU); on the sim access() modelled it.
      const bad = checkPattern(buf.bytes, seed);
      if (bad) fail(`the CPU read wrong data from pages on the GPU (byte ${bad.offset})`, { offset: bad.offset, expected: bad.expected, actual: bad.actual });
      const after = residency(device, buf);
      if (after) {
        out.diag('after', describeResidency(after));
        if (gpu.coherent) {
          check(allIn(after, 'device-coherent', gpu.gpuId), 'the CPU read moved pages off a coherent GPU (expected in-place access)', { pages: describeResidency(after) });
        } else {
          check(allIn(after, 'system'), 'the CPU read left pages in device-private VRAM (expected fault-back to system memory)', { pages: describeResidency(after) });
        }
        return;
      }
      // Hardware: look for the CPU-fault migration back to system memory.
      const firstPage = Number(buf.address / 4096n);
      const isFaultBack = (e: Parameters<typeof migrateView>[0]): boolean => {
        const m = migrateView(e);
        return !!m && m.kind === 'migrate-start' && m.trigger === TRIGGER_PAGEFAULT_CPU && m.from === gpu.gpuId && m.to === 0 && m.startPage < firstPage + GRANULE / 4096 && m.startPage + m.pages > firstPage;
      };
      const seen = await events!.waitFor((evs) => evs.some(isFaultBack), gpu.coherent ? Math.min(eventWaitMs, 500) : eventWaitMs);
      if (events!.error !== undefined) throw events!.error;
      const faulted = seen.some(isFaultBack);
      out.diag('cpuFaultMigration', faulted);
      if (gpu.coherent) check(!faulted, 'a CPU read of a coherent GPU\'s pages migrated them (expected in-place access)');
      else check(faulted, `no CPU-fault migration event within ${eventWaitMs} ms after reading pages in device-private VRAM`);
    } finally {
      events?.close();
      buf.free();
    }
  },
};
