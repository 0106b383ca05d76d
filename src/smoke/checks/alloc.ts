import { PAGE_SIZE } from '../../backend/abi.js';
import { check, checkEqual, checkRejects } from '../assert.js';
import { checkPattern, fillPattern } from '../pattern.js';
import type { SmokeCheck } from '../types.js';

/** EINVAL: what the kernel answers an SVM SET before any GPU VM exists (svm_range_set_attr). */
const EINVAL = 22;

export const allocCheck: SmokeCheck = {
  id: 'alloc-free',
  perGpu: false,
  title: () => 'alloc registers an SVM range with the kernel defaults; free releases it',
  async run({ device, bufferBytes }, _gpu, out) {
    if (device.vmGpuIds.length === 0) {
      // No GPU VM: the kernel refuses every SVM SET with EINVAL, which the API names ENOGPU.
      await checkRejects(() => device.alloc(PAGE_SIZE), { errno: EINVAL, code: 'ENOGPU' }, 'alloc without a GPU VM', (b) => b.free());
      out.diag('refused', 'ENOGPU: no GPU VM, as the kernel answers');
      return;
    }
    const buf = await device.alloc(bufferBytes);
    try {
      out.diag('address', `0x${buf.address.toString(16)}`);
      checkEqual(buf.size, bufferBytes, 'buffer size');
      check(buf.address % BigInt(PAGE_SIZE) === 0n, `the buffer address 0x${buf.address.toString(16)} is not page-aligned`);
      checkEqual(buf.bytes.byteLength, bufferBytes, 'bytes.byteLength');
      fillPattern(buf.bytes, 0x5eed);
      const bad = checkPattern(buf.bytes, 0x5eed);
      check(!bad, `the memory does not hold what was written (byte ${bad?.offset})`);
      // svm_range_set_default_attributes: locations undefined, HOST_ACCESS | COHERENT, the default granularity.
      const a = buf.get();
      checkEqual(a.preferredLocation, 'undefined', 'default preferred location');
      checkEqual(a.prefetchLocation, 'undefined', 'default prefetch location');
      checkEqual(a.flags['host-access'], true, 'default host-access flag');
      checkEqual(a.flags.coherent, true, 'default coherent flag');
      for (const f of ['hive-local', 'gpu-read-only', 'gpu-exec', 'gpu-read-mostly', 'gpu-always-mapped', 'ext-coherent'] as const) {
        checkEqual(a.flags[f], false, `default ${f} flag`);
      }
      check(a.granularity >= 0 && a.granularity <= 0x1b, `default granularity ${a.granularity} is above the kernel's cap (0x1b)`);
      out.diag('granularity', a.granularity);
      // A new range grants access to every GPU when XNACK is on, to none when off (svm_range_new).
      const want = device.xnack ? 'access' : 'none';
      for (const g of device.gpus) {
        if (!g.svmCapable) continue;
        checkEqual(a.access.get(g.gpuId), want, `default access for GPU ${g.gpuId} with XNACK ${device.xnack ? 'on' : 'off'}`);
      }
    } finally {
      buf.free();
    }
    check(buf.freed, 'the buffer does not say it is freed');
    let threw: unknown;
    try {
      void buf.bytes;
    } catch (e) {
      threw = e;
    }
    checkEqual((threw as { code?: unknown } | undefined)?.code, 'EFREED', 'bytes after free');
  },
};
