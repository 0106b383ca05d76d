/**
 * Where durations come from: the simulator's clock on the sim (so bandwidth is what the profile's link
 * predicts, not how fast this laptop runs the model), wall time on hardware.
 */
import type { Device } from '../index.js';

export interface Clock {
  kind: 'sim' | 'wall';
  /** Nanoseconds since an arbitrary origin. */
  nowNs(): number;
}

export const wallClock: Clock = { kind: 'wall', nowNs: () => Number(process.hrtime.bigint()) };

export function deviceClock(device: Device): Clock {
  const sim = device.sim;
  if (!sim) return wallClock;
  return { kind: 'sim', nowNs: () => Number(sim.clock()) };
}
