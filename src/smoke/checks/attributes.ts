import { FLAG_NAMES, type AccessMode, type Gpu, type SvmBuffer } from '../../index.js';
import { PAGE_SIZE } from '../../backend/abi.js';
import { checkEqual, skip } from '../assert.js';
import type { SmokeCheck } from '../types.js';

const PAGES = 16;
const HALF = { offset: 0, length: (PAGES / 2) * PAGE_SIZE };
const SECOND = { offset: (PAGES / 2) * PAGE_SIZE, length: (PAGES / 2) * PAGE_SIZE };

/** Each attribute set alone, read back; then spans whose halves differ, read with the kernel's rules. */
async function roundTrips(buf: SvmBuffer, gpus: readonly Gpu[]): Promise<number> {
  let n = 0;
  for (const f of FLAG_NAMES) {
    for (const on of [true, false]) {
      const before = buf.get().flags;
      await buf.set({ flags: { [f]: on } });
      const after = buf.get().flags;
      checkEqual(after[f], on, `flag ${f} after setting it ${on}`);
      for (const other of FLAG_NAMES) if (other !== f) checkEqual(after[other], before[other], `flag ${other} after setting only ${f}`);
      n++;
    }
  }
  for (const loc of ['system', ...gpus, 'undefined'] as const) {
    await buf.set({ preferredLocation: loc });
    checkEqual(buf.get().preferredLocation, loc, 'preferred location');
    n++;
  }
  for (const g of gpus) {
    for (const mode of ['access', 'in-place', 'none'] as AccessMode[]) {
      await buf.set({ access: [[g, mode]] });
      checkEqual(buf.get().access.get(g.gpuId), mode, `access of GPU ${g.gpuId}`);
      n++;
    }
  }
  for (const gran of [0, 9, 18, 0x3f]) {
    await buf.set({ granularity: gran });
    checkEqual(buf.get().granularity, gran, 'granularity');
    n++;
  }
  await buf.set({ prefetchLocation: 'system' });
  checkEqual(buf.get().prefetchLocation, 'system', 'prefetch location');
  n++;

  // Mixed spans (svm_range_get_attr): flags that differ are neither set nor clear; differing locations are
  // UNDEFINED; the smallest granularity; the weakest access.
  await buf.set({ flags: { 'gpu-read-only': true } }, HALF);
  await buf.set({ flags: { 'gpu-read-only': false } }, SECOND);
  checkEqual(buf.get().flags['gpu-read-only'], 'mixed', 'a flag set on half the span');
  checkEqual(buf.get(HALF).flags['gpu-read-only'], true, 'the flag on the half where it is set');
  await buf.set({ preferredLocation: 'system' }, HALF);
  await buf.set({ preferredLocation: gpus[0] ?? 'undefined' }, SECOND);
  checkEqual(buf.get().preferredLocation, 'undefined', 'preferred location differing across the span');
  await buf.set({ granularity: 5 }, HALF);
  await buf.set({ granularity: 9 }, SECOND);
  checkEqual(buf.get().granularity, 5, 'granularity across the span (the smallest)');
  const g = gpus[0];
  if (g) {
    // ACCESS and ACCESS_IN_PLACE are exclusive bits per range, and GET ANDs each bitmap over the span
    // (kfd_svm.c: svm_range_get_attr), so access on one half and in-place on the other reads as NO_ACCESS.
    await buf.set({ access: [[g, 'in-place']] });
    checkEqual(buf.get().access.get(g.gpuId), 'in-place', 'access across the span (in-place on both halves)');
    await buf.set({ access: [[g, 'access']] }, HALF);
    checkEqual(buf.get().access.get(g.gpuId), 'none', 'access across the span (access + in-place)');
    checkEqual(buf.get(HALF).access.get(g.gpuId), 'access', 'access on the half where it is set');
  }
  return n + 5;
}

export const attributesCheck: SmokeCheck = {
  id: 'attributes',
  perGpu: false,
  title: () => 'set/get round-trips every attribute and flag, and mixed spans read as the kernel answers',
  async run({ device, gpus }, _gpu, out) {
    if (device.vmGpuIds.length === 0) skip('no GPU VM: the kernel keeps no SVM ranges (see alloc-free)');
    const svmGpus = gpus.filter((g) => g.svmCapable);
    const buf = await device.alloc(PAGES * PAGE_SIZE);
    try {
      out.diag('roundTrips', await roundTrips(buf, svmGpus));
    } finally {
      buf.free();
    }
  },
};
