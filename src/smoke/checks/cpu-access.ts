import { fail } from '../assert.js';
import { checkPattern, fillPattern } from '../pattern.js';
import type { SmokeCheck } from '../types.js';
import { checkCpuTouch, onGpuGranule, skipUnlessMoved } from './cpu-touch.js';
import { gpuLabel } from './prefetch.js';

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
    await onGpuGranule(device, gpu, async (buf, events) => {
      const seed = gpu.gpuId ^ 0xbb67ae85;
      fillPattern(buf.bytes, seed);
      await buf.prefetch(gpu);
      skipUnlessMoved(device, buf);
      await buf.access(undefined, 'read');
      // The touch itself: on hardware this is what faults (the MMU); on the sim access() modelled it.
      const bad = checkPattern(buf.bytes, seed);
      if (bad) fail(`the CPU read wrong data from pages on the GPU (byte ${bad.offset})`, { offset: bad.offset, expected: bad.expected, actual: bad.actual });
      await checkCpuTouch(device, gpu, buf, events, eventWaitMs, out, 'the CPU read');
    });
  },
};
