/**
 * The test_hmm step sequence run on the sim through the Backend contract: prefetch to the GPU, CPU read,
 * prefetch again, CPU write, prefetch to system memory; where the pages are after each step.
 */
import { PAGE_SIZE, SvmAttrType, SvmLocation } from '../../src/backend/abi.js';
import { createSimBackend } from '../../src/backend/sim/index.js';
import type { Residence, ResidenceTrace } from './hmm-states.js';

const SIZE = 2 << 20;

export async function simTrace(profile: 'mi210' | 'mi250x'): Promise<{ trace: ResidenceTrace; intact: boolean }> {
  const sim = createSimBackend({ profile });
  try {
    const gpu = sim.profile.gpus[0];
    if (!gpu) throw new Error(`profile ${profile} has no GPU`);
    sim.acquireVm(gpu.gpuId, gpu.drmRenderMinor);
    const mem = sim.alloc(SIZE, { align2M: true });
    const words = new Uint32Array(mem.buffer);
    for (let i = 0; i < words.length; i++) words[i] = i;
    const where = (): Residence => {
      const runs = sim.snapshot(mem.address, BigInt(SIZE));
      const kinds = new Set(runs.map((r) => (r.location === 'system' ? 'system' : 'device')));
      if (kinds.size !== 1) throw new Error(`pages disagree: ${JSON.stringify(runs, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
      return [...kinds][0] as Residence;
    };
    const toGpu = () => sim.svmSetAttr(mem.address, BigInt(SIZE), [{ type: SvmAttrType.PREFETCH_LOC, value: gpu.gpuId }]);

    await toGpu();
    const afterMigrate = where();
    await sim.cpuAccess(mem.address, BigInt(SIZE), 'read');
    const afterCpuRead = where();
    await toGpu();
    await sim.cpuAccess(mem.address, BigInt(SIZE), 'write');
    const afterCpuWrite = where();
    await sim.svmSetAttr(mem.address, BigInt(SIZE), [{ type: SvmAttrType.PREFETCH_LOC, value: SvmLocation.SYSMEM }]);
    const afterMigrateToSystem = where();
    let intact = true;
    for (let i = 0; i < words.length; i += PAGE_SIZE / 4) if (words[i] !== i) intact = false;
    mem.free();
    return { trace: { afterMigrate, afterCpuRead, afterCpuWrite, afterMigrateToSystem }, intact };
  } finally {
    sim.close();
  }
}
