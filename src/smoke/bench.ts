/**
 * Migration bandwidth (system → GPU and GPU → system) over a sweep of sizes for each GPU, and the per-call
 * overhead of a quick call. On the sim the migration time is the simulated clock's (what the profile's
 * link predicts); on hardware it is wall time. The call overhead is always wall time: it is the cost of
 * the JavaScript → backend → kernel path itself.
 */
import type { Device, Gpu } from '../index.js';
import type { BandwidthSample } from '../report/node-report.js';
import { deviceClock } from './clock.js';
import { median } from '../report/stats.js';
import { bandwidthSample } from './sample.js';

export interface BenchOptions {
  sizes: readonly number[];
  /** Round trips per size; the fastest counts (the least disturbed by everything else on the node). */
  repeat: number;
  /** Quick calls timed for the overhead figure. */
  calls: number;
  /** Called before each step (a step is one size on one GPU, or the overhead measurement). */
  onStep?(label: string): void;
}

export interface BenchResult {
  samples: BandwidthSample[];
  /** Median wall time of one `buffer.get()` (one GET_ATTR ioctl), ns. */
  callOverheadNs: number;
  clock: 'sim' | 'wall';
}

/**
 * GPUs whose migrations can be timed: SVM-capable, and not an APU (one memory: the kernel keeps the pages
 * where they are, svm_range_best_prefetch_location, so nothing moves).
 */
export function measurable(g: Gpu): boolean {
  return g.svmCapable && !g.apu;
}

export function benchSteps(gpus: readonly Gpu[], opts: Pick<BenchOptions, 'sizes'>): number {
  return gpus.filter(measurable).length * opts.sizes.length + 1;
}

export async function runBench(device: Device, gpus: readonly Gpu[], opts: BenchOptions): Promise<BenchResult> {
  const clock = deviceClock(device);
  const samples: BandwidthSample[] = [];
  for (const gpu of gpus) {
    if (!measurable(gpu)) continue;
    for (const size of opts.sizes) {
      opts.onStep?.(`GPU ${gpu.gpuId}: ${size} bytes`);
      const best = { 'to-gpu': Infinity, 'to-system': Infinity };
      const buf = await device.alloc(size, { align2M: size >= 2 << 20 });
      try {
        // Populate the pages first: migrating never-touched memory measures page allocation, not the link.
        buf.bytes.fill(0xa5);
        for (let r = 0; r < opts.repeat; r++) {
          const t0 = clock.nowNs();
          await buf.prefetch(gpu);
          const t1 = clock.nowNs();
          await buf.prefetch('system');
          const t2 = clock.nowNs();
          best['to-gpu'] = Math.min(best['to-gpu'], t1 - t0);
          best['to-system'] = Math.min(best['to-system'], t2 - t1);
        }
      } finally {
        buf.free();
      }
      for (const direction of ['to-gpu', 'to-system'] as const) {
        const ns = best[direction];
        if (!(ns > 0) || !Number.isFinite(ns)) continue;
        samples.push(bandwidthSample(gpu, direction, size, ns, clock.kind));
      }
    }
  }
  opts.onStep?.('per-call overhead');
  return { samples, callOverheadNs: await callOverhead(device, opts.calls), clock: clock.kind };
}

/** Median over batches of the wall time of `buffer.get()` on one page; NaN without a GPU VM. */
async function callOverhead(device: Device, calls: number): Promise<number> {
  if (device.vmGpuIds.length === 0) return Number.NaN;
  const buf = await device.alloc(4096);
  try {
    const batches = 5;
    const per = Math.max(1, Math.ceil(calls / batches));
    for (let i = 0; i < Math.min(per, 100); i++) buf.get(); // warm up (JIT)
    const times: number[] = [];
    for (let b = 0; b < batches; b++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < per; i++) buf.get();
      times.push(Number(process.hrtime.bigint() - t0) / per);
    }
    return median(times);
  } finally {
    buf.free();
  }
}
