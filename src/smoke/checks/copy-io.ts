import { fail, skip } from '../assert.js';
import { collectEvents } from '../event-view.js';
import { checkPattern, fillPattern } from '../pattern.js';
import { allIn, residency } from '../sim-view.js';
import type { SmokeCheck } from '../types.js';
import { checkCpuTouch } from './cpu-touch.js';
import { gpuLabel } from './prefetch.js';

const GRANULE = 2 * 1024 * 1024;

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
    if (!gpu.svmCapable) skip(`GPU ${gpu.gpuId} has no SVM support`);
    if (gpu.apu) skip('an APU: one memory, the pages never leave it');
    const buf = await device.alloc(GRANULE, { align2M: true });
    const events = device.sim ? undefined : collectEvents(device, [gpu], ['migrate-start', 'migrate-end']);
    try {
      const seed = gpu.gpuId ^ 0x3c6ef372;
      const pattern = new Uint8Array(GRANULE);
      fillPattern(pattern, seed);
      buf.write(0, pattern);
      await buf.prefetch(gpu);
      const before = residency(device, buf);
      if (before && allIn(before, 'system')) skip('an APU: one memory, the pages never leave it');
      const bad = checkPattern(buf.read(0, GRANULE), seed);
      if (bad) fail(`read() returned wrong data from pages on the GPU (byte ${bad.offset})`, { offset: bad.offset, expected: bad.expected, actual: bad.actual });
      await checkCpuTouch(device, gpu, buf, events, eventWaitMs, out, 'read()');
    } finally {
      events?.close();
      buf.free();
    }
  },
};
