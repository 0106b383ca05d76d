/**
 * The one place the smoke suite reads the simulator's introspection (`device.sim`, sim-only): where the
 * pages of a buffer are. On the kernel there is none, and the checks use SMI events instead.
 */
import type { Device, SvmRange } from '../index.js';

export type PageLocation = 'system' | 'device-private' | 'device-coherent';

export interface Residency {
  location: PageLocation;
  gpuId?: number;
  bytes: number;
}

/** Where the pages of `range` live, per run (undefined on the kernel). */
export function residency(device: Device, range: SvmRange): Residency[] | undefined {
  const sim = device.sim;
  if (!sim) return undefined;
  return sim.snapshot(range.address, BigInt(range.size)).map((r) => ({
    location: r.location,
    ...(r.gpuId !== undefined ? { gpuId: r.gpuId } : {}),
    bytes: Number(r.size),
  }));
}

/** "8 MiB device-coherent on gpu 1234" lines for diagnostics. */
export function describeResidency(runs: readonly Residency[]): string {
  return runs.map((r) => `${r.bytes} B ${r.location}${r.gpuId !== undefined ? ` on gpu ${r.gpuId}` : ''}`).join(', ');
}

/** True when every page is in `location` (on `gpuId` for device locations). */
export function allIn(runs: readonly Residency[], location: PageLocation, gpuId?: number): boolean {
  return runs.length > 0 && runs.every((r) => r.location === location && (gpuId === undefined || r.gpuId === gpuId));
}
