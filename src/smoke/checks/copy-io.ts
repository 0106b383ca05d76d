import { fail } from '../assert.js';
import { checkPattern, fillPattern } from '../pattern.js';
import type { SmokeCheck } from '../types.js';
import { checkCpuTouch, GRANULE, onGpuGranule, skipUnlessMoved } from './cpu-touch.js';
import { gpuLabel } from './prefetch.js';

/**
 * The copy path of runtimes without external ArrayBuffers (SvmBuffer.write/read: the addon's memcpy), on
 * pages that sit on the GPU: the data comes back intact, and the copy is a CPU access like any other (in
 * place on a coherent link, faulted back over PCIe: see checkCpuTouch). It runs in every runtime.
 */
export const copyIoCheck: SmokeCheck = {
  id: 'copy-io',
  perGpu: true,
  title: (g) => (g ? `read()/write() copies through pages on ${gpuLabel(g)}` : 'read()/write() copies through pages on each GPU'),
  async run({ device, eventWaitMs }, gpu, out) {
    if (!gpu) return;
    await onGpuGranule(device, gpu, async (buf, events) => {
      const seed = gpu.gpuId ^ 0x3c6ef372;
      const pattern = new Uint8Array(GRANULE);
      fillPattern(pattern, seed);
      buf.write(0, pattern);
      await buf.prefetch(gpu);
      skipUnlessMoved(device, buf);
      const bad = checkPattern(buf.read(0, GRANULE), seed);
      if (bad) fail(`read() returned wrong data from pages on the GPU (byte ${bad.offset})`, { offset: bad.offset, expected: bad.expected, actual: bad.actual });
      await checkCpuTouch(device, gpu, buf, events, eventWaitMs, out, 'read()');
    });
  },
};
