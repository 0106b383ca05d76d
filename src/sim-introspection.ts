/**
 * The simulator's introspection as the API hands it out (`device.sim`): page-state snapshots, counters,
 * GPU touches, the simulated clock. Sim-only, plainly not part of the kernel contract; `undefined` on the
 * kernel. The type is the simulator's own.
 */
export type { SimIntrospection, SimCounters, SnapshotRun, PageLocation, GpuAccessResult } from './backend/sim/index.js';
