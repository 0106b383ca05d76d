import { check, skip } from '../assert.js';
import { coveredPages, migrateView } from '../event-fields.js';
import { collectEvents } from '../event-view.js';
import { allIn, residency } from '../sim-view.js';
import type { SmokeCheck } from '../types.js';
import { gpuLabel } from './prefetch.js';

const SIZE = 4 * 1024 * 1024;

/** Each migration of a prefetch round trip shows up as SMI migrate start/end events covering the range. */
export const eventsCheck: SmokeCheck = {
  id: 'events',
  perGpu: true,
  title: (g) => `an SMI migrate event for each migration to ${g ? gpuLabel(g) : 'each GPU'} and back`,
  async run({ device, eventWaitMs }, gpu, out) {
    if (!gpu) return;
    if (!gpu.svmCapable) skip(`GPU ${gpu.gpuId} has no SVM support`);
    // svm_range_best_prefetch_location: on an APU the best location is always system memory.
    if (gpu.apu) skip('an APU: one memory, prefetch migrates nothing');
    const buf = await device.alloc(SIZE, { align2M: true });
    const events = collectEvents(device, [gpu], ['migrate-start', 'migrate-end']);
    try {
      await buf.prefetch(gpu);
      const placed = residency(device, buf);
      if (placed && allIn(placed, 'system')) skip('an APU: one memory, prefetch migrates nothing');
      await buf.prefetch('system');
      const firstPage = Number(buf.address / 4096n);
      const pages = SIZE / 4096;
      const want: [string, 'migrate-start' | 'migrate-end', number, number][] = [
        ['start to GPU', 'migrate-start', 0, gpu.gpuId],
        ['end to GPU', 'migrate-end', 0, gpu.gpuId],
        ['start to system', 'migrate-start', gpu.gpuId, 0],
        ['end to system', 'migrate-end', gpu.gpuId, 0],
      ];
      const complete = (evs: Parameters<typeof coveredPages>[0]): boolean => want.every(([, k, f, t]) => coveredPages(evs, k, f, t, firstPage, pages) >= pages);
      const seen = await events.waitFor(complete, eventWaitMs);
      out.diag('events', seen.length);
      if (events.error !== undefined) throw events.error;
      for (const [what, kind, from, to] of want) {
        const got = coveredPages(seen, kind, from, to, firstPage, pages);
        check(got >= pages, `migrate ${what}: events cover ${got} of ${pages} pages`, { eventsSeen: seen.length, pagesCovered: got, pages });
      }
      const triggers = new Set(seen.map((e) => migrateView(e)?.trigger).filter((t) => t !== undefined));
      check(triggers.size === 1 && triggers.has(0), `prefetch migrations carry trigger ${[...triggers].join(',')} (expected 0, PREFETCH)`);
    } finally {
      events.close();
      buf.free();
    }
  },
};
