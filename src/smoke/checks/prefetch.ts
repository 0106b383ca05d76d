import type { Gpu } from '../../index.js';
import { check, checkEqual, fail, skip } from '../assert.js';
import { checkPattern, fillPattern } from '../pattern.js';
import { allIn, describeResidency, residency } from '../sim-view.js';
import { bandwidthSample } from '../sample.js';
import type { SmokeCheck } from '../types.js';

export function gpuLabel(g: Gpu): string {
  return `GPU ${g.gpuId} (${g.gfxTarget}, ${g.apu ? 'APU' : g.coherent ? 'coherent link' : 'PCIe'})`;
}

/**
 * Prefetch to the GPU and back with the data checked byte for byte; the two migrations are timed (the
 * simulated clock on the sim) and give the node's bandwidth samples.
 */
export const prefetchCheck: SmokeCheck = {
  id: 'prefetch-roundtrip',
  perGpu: true,
  title: (g) => `prefetch to ${g ? gpuLabel(g) : 'each GPU'} and back, data checked byte for byte`,
  async run({ device, clock, bufferBytes }, gpu, out) {
    if (!gpu) return;
    if (!gpu.svmCapable) skip(`GPU ${gpu.gpuId} has no SVM support`);
    const buf = await device.alloc(bufferBytes, { align2M: true });
    try {
      const seed = gpu.gpuId ^ 0x6a09e667;
      fillPattern(buf.bytes, seed);
      const t0 = clock.nowNs();
      await buf.prefetch(gpu);
      const t1 = clock.nowNs();
      checkEqual(buf.get().prefetchLocation, gpu, 'prefetch location after the prefetch');
      const onGpu = residency(device, buf);
      // An APU has one memory: the kernel keeps the pages in system memory (svm_range_best_prefetch_location).
      const apu = gpu.apu || (onGpu !== undefined && allIn(onGpu, 'system'));
      if (onGpu) {
        out.diag('onGpu', describeResidency(onGpu));
        if (!apu) check(allIn(onGpu, gpu.coherent ? 'device-coherent' : 'device-private', gpu.gpuId), `after the prefetch the pages are not all on GPU ${gpu.gpuId}`, { pages: describeResidency(onGpu) });
      }
      const t2 = clock.nowNs();
      await buf.prefetch('system');
      const t3 = clock.nowNs();
      const back = residency(device, buf);
      if (back) check(allIn(back, 'system'), 'after the prefetch back the pages are not all in system memory', { pages: describeResidency(back) });
      const bad = checkPattern(buf.bytes, seed);
      if (bad) {
        fail(`data differs after the round trip: ${bad.count} byte(s), first at offset ${bad.offset}`, {
          offset: bad.offset,
          expected: bad.expected,
          actual: bad.actual,
          bytesDiffering: bad.count,
        });
      }
      if (apu) {
        out.diag('apu', 'one memory: nothing migrates, no bandwidth sample');
        return;
      }
      for (const [direction, ns] of [
        ['to-gpu', t1 - t0],
        ['to-system', t3 - t2],
      ] as const) {
        if (!(ns > 0)) continue;
        const sample = bandwidthSample(gpu, direction, bufferBytes, ns, clock.kind);
        out.bandwidth(sample);
        out.diag(`${direction}GBps`, Number((sample.bytesPerSecond / 1e9).toFixed(2)));
      }
    } finally {
      buf.free();
    }
  },
};
