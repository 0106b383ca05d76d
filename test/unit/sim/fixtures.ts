/** Small machine profiles built in the tests, so each rule is exercised on a machine made for it. */
import type { GpuDescription, MachineProfile } from '../../../src/platform/profile-types.js';
import { createSimBackend, type SimBackend, type SimBackendOptions } from '../../../src/backend/sim/index.js';
import { SmiEvent, smiEventMask } from '../../../src/backend/abi.js';

const MiB = 1024 * 1024;

export function gpu(over: Partial<GpuDescription> & { gpuId: number }): GpuDescription {
  return {
    marketingName: 'Test GPU',
    gfxTargetVersion: 90010,
    vendorId: 0x1002,
    deviceId: 0x740c,
    pci: { domain: 0, bus: 0xc1 + (over.drmRenderMinor ?? 128) - 128, device: 0, function: 0 },
    drmRenderMinor: 128,
    simdCount: 440,
    numXcc: 1,
    vramBytes: 64 * MiB,
    memoryKind: 'private',
    hiveId: 0n,
    svmSupported: true,
    xnackSupported: true,
    // 4 GB/s and 1 µs: round numbers so costs are easy to check.
    hostLink: { kind: 'pcie', bandwidthBytesPerSecond: 4e9, latencyNs: 1000 },
    ...over,
  };
}

export function machine(gpus: GpuDescription[], over: Partial<MachineProfile> = {}): MachineProfile {
  return {
    id: 'test',
    description: 'test machine',
    kfdVersion: { major: 1, minor: 17 },
    cpus: [{ name: 'Test CPU', cores: 8, memoryBytes: 1024 * MiB }],
    gpus,
    xnackDefault: false,
    ...over,
  };
}

/** GPU A: device-private, 64 MiB of VRAM; GPU B: device-coherent, 64 MiB. No hive. */
export const A = 0x1111;
export const B = 0x2222;
export function twoGpus(over: Partial<MachineProfile> = {}): MachineProfile {
  return machine(
    [
      gpu({ gpuId: A, drmRenderMinor: 128, memoryKind: 'private' }),
      gpu({ gpuId: B, drmRenderMinor: 129, memoryKind: 'coherent', hostLink: { kind: 'xgmi', bandwidthBytesPerSecond: 8e9, latencyNs: 500 } }),
    ],
    over,
  );
}

/** A backend on `profile` with a VM acquired on every GPU. */
export function simWithVms(profile: MachineProfile, opts: Omit<SimBackendOptions, 'profile'> = {}): SimBackend {
  const b = createSimBackend({ ...opts, profile });
  for (const g of profile.gpus) b.acquireVm(g.gpuId, g.drmRenderMinor);
  return b;
}

export const ALL_EVENTS = smiEventMask(
  SmiEvent.VMFAULT,
  SmiEvent.MIGRATE_START,
  SmiEvent.MIGRATE_END,
  SmiEvent.PAGE_FAULT_START,
  SmiEvent.PAGE_FAULT_END,
  SmiEvent.QUEUE_EVICTION,
  SmiEvent.QUEUE_RESTORE,
  SmiEvent.UNMAP_FROM_GPU,
);

/**
 * Reads what is queued on a source (the model writes events synchronously and the kfifo holds at most
 * 1 KiB, so one read returns all of it). Resolves [] when nothing is queued, and then closes the source
 * (its read stays pending otherwise).
 */
export async function lines(src: { read(): Promise<string>; close(): void }): Promise<string[]> {
  const chunk = await Promise.race([src.read(), new Promise<null>((r) => setImmediate(() => r(null)))]);
  if (chunk === null) {
    src.close();
    return [];
  }
  return chunk.split('\n').filter((l) => l.length > 0);
}

export const PAGE = 4096n;
export const MB2 = 2n * 1024n * 1024n;
