import { check } from '../assert.js';
import type { SmokeCheck } from '../types.js';

/**
 * The KFD topology and /proc/iomem tell the same story: every GPU with a coherent CPU link
 * (xgmi connected_to_cpu) has its VRAM listed as special-purpose memory ("Soft Reserved"), PCIe GPUs have
 * none (kfd_migrate.c: svm_migrate_init picks MEMORY_DEVICE_COHERENT only for connected_to_cpu), and the
 * listed ranges do not overlap.
 */
export const topologyCheck: SmokeCheck = {
  id: 'topology-iomem',
  perGpu: false,
  title: () => 'the topology agrees with /proc/iomem (coherent VRAM listed as special-purpose memory)',
  async run({ device }, _gpu, out) {
    const gpus = device.gpus;
    out.diag('gpus', gpus.length);
    out.diag('cpus', device.cpus.length);
    out.diag('spmRanges', device.spmRanges.length);
    check(device.cpus.length > 0, 'the topology lists no CPU node');
    const ids = gpus.map((g) => g.gpuId);
    check(new Set(ids).size === ids.length, `gpu_ids are not unique: ${ids.join(', ')}`);
    check(!ids.includes(0), 'a GPU has gpu_id 0 (the kernel gives 0 to CPU nodes only)');
    for (const g of gpus) check(/^gfx[0-9a-f]+$/.test(g.gfxTarget), `GPU ${g.gpuId}: unknown gfx target "${g.gfxTarget}"`);

    // Ranges tied to a GPU belong to a coherent one.
    for (const r of device.spmRanges) {
      if (!r.gpu) continue;
      check(r.gpu.coherent, `special-purpose memory is tied to GPU ${r.gpu.gpuId}, whose link is not coherent`);
    }
    const coherent = gpus.filter((g) => g.coherent);
    const tied = device.spmRanges.filter((r) => r.gpu);
    if (tied.length > 0) {
      for (const g of coherent) {
        check(
          tied.some((r) => r.gpu?.gpuId === g.gpuId),
          `GPU ${g.gpuId} has a coherent link, but no special-purpose memory range is tied to it`,
        );
      }
    }
    // Without addresses (no CAP_SYS_ADMIN) ranges cannot be tied; their number still must cover the GPUs.
    // An APU (MI300A) has one memory and no VRAM aperture to list.
    const discrete = coherent.filter((g) => !g.apu);
    check(
      device.spmRanges.length >= discrete.length,
      `${discrete.length} discrete GPU(s) with a coherent link, but only ${device.spmRanges.length} special-purpose memory range(s) in /proc/iomem`,
    );
    const visible = device.spmRanges.filter((r) => r.start !== undefined && r.size !== undefined);
    const sorted = [...visible].sort((a, b) => (a.start! < b.start! ? -1 : a.start! > b.start! ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      check(prev.start! + prev.size! <= cur.start!, `special-purpose memory ranges overlap at 0x${cur.start!.toString(16)}`);
    }
    if (device.notes.length > 0) out.diag('notes', device.notes.join('; '));
  },
};
