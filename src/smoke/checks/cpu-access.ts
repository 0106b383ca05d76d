import { fail, skip } from '../assert.js';
import { collectEvents } from '../event-view.js';
import { checkPattern, fillPattern } from '../pattern.js';
import { allIn, residency } from '../sim-view.js';
import type { SmokeCheck } from '../types.js';
import { checkCpuTouch } from './cpu-touch.js';
import { gpuLabel } from './prefetch.js';

const GRANULE = 2 * 1024 * 1024;

/**
 * A CPU read of pages that sit on the GPU, through `bytes` (the memory itself): in place on a coherent
 * link, faulted back to system memory over PCIe (see checkCpuTouch).
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
      await checkCpuTouch(device, gpu, buf, events, eventWaitMs, out, 'the CPU read');
    } finally {
      events?.close();
      buf.free();
    }
  },
};
