import type { Device, Gpu } from '../index.js';
import type { BandwidthSample, DiagValue } from '../report/node-report.js';
import type { Clock } from './clock.js';

/** What every check gets. */
export interface SmokeEnv {
  device: Device;
  /** The GPUs chosen with --gpu (default: all). */
  gpus: readonly Gpu[];
  /** The simulated clock on the sim, wall time on hardware. */
  clock: Clock;
  /** Size of the buffers the data checks move, bytes (a multiple of 2 MiB). */
  bufferBytes: number;
  /** How long to wait for SMI events on hardware (they arrive asynchronously), ms. */
  eventWaitMs: number;
}

/** What a check may record besides pass/fail. */
export interface CheckOutput {
  diag(key: string, value: DiagValue): void;
  bandwidth(sample: BandwidthSample): void;
}

export interface SmokeCheck {
  /** Stable id, the same on every node: the merger's pass rates are per id. */
  id: string;
  /** Run once per chosen GPU (gpu given), or once (gpu undefined). */
  perGpu: boolean;
  title(gpu: Gpu | undefined): string;
  run(env: SmokeEnv, gpu: Gpu | undefined, out: CheckOutput): Promise<void>;
}
