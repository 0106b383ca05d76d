import type { Gpu } from '../index.js';
import { linkOf, type BandwidthSample, type Direction } from '../report/node-report.js';

/** One bandwidth measurement of `bytes` moved in `ns`, with the GPU kind the merger compares within. */
export function bandwidthSample(gpu: Gpu, direction: Direction, bytes: number, ns: number, clock: 'sim' | 'wall'): BandwidthSample {
  const seconds = ns / 1e9;
  return {
    gpuId: gpu.gpuId,
    gpuName: gpu.name,
    gfxTarget: gpu.gfxTarget,
    link: linkOf(gpu),
    vramBytes: gpu.vramBytes,
    direction,
    bytes,
    seconds,
    bytesPerSecond: bytes / seconds,
    clock,
  };
}
