/**
 * kfd_ioctl_svm / svm_range_set_attr / svm_range_get_attr: every refusal, in the kernel's order, with its
 * errno. Each case is built so that the rule under test is the first one the call meets.
 */
import { describe, expect, it } from 'vitest';
import { Errno, SvmAttrType as T, SvmLocation } from '../../../src/backend/abi.js';
import { createSimBackend } from '../../../src/backend/sim/index.js';
import { KernelError } from '../../../src/backend/errors.js';
import { A, B, gpu, machine, MB2, PAGE, simWithVms, twoGpus } from './fixtures.js';

async function errnoOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof KernelError) {
      expect(e.syscall).toBe('ioctl');
      expect(e.request).toBe('AMDKFD_IOC_SVM');
      return e.code;
    }
    throw e;
  }
  return 'OK';
}

describe('SVM ioctl argument checks (kfd_ioctl_svm)', () => {
  const b = simWithVms(twoGpus());
  const m = b.alloc(4 * 1024 * 1024);
  const ok = [{ type: T.GRANULARITY, value: 9 }];

  it('unaligned start or size, zero start or size → EINVAL before anything else', async () => {
    expect(await errnoOf(b.svmSetAttr(m.address + 1n, PAGE, ok))).toBe('EINVAL');
    expect(await errnoOf(b.svmSetAttr(m.address, PAGE + 1n, ok))).toBe('EINVAL');
    expect(await errnoOf(b.svmSetAttr(m.address, 0n, ok))).toBe('EINVAL');
    expect(await errnoOf(b.svmSetAttr(0n, PAGE, ok))).toBe('EINVAL');
    // Even an unknown op or an unknown attribute type is not looked at yet: same answer, and the
    // unaligned GET on mapped memory is EINVAL, not EFAULT.
    expect(await errnoOf(() => b.svmGetAttr(m.address + 8n, PAGE, ok))).toBe('EINVAL');
  });

  it('an unknown op → EINVAL (svm_ioctl default case), after the alignment checks', async () => {
    expect(await errnoOf(b.svmRaw(7, m.address, PAGE, []))).toBe('EINVAL');
    expect(await errnoOf(b.svmRaw(2, m.address, PAGE, []))).toBe('EINVAL');
    // op 1 is GET and works on mapped memory.
    expect(await errnoOf(b.svmRaw(1, m.address, PAGE, []))).toBe('OK');
  });

  it('values that do not fit the kernel struct are refused before the call, not with an errno', () => {
    expect(() => b.svmGetAttr(-1n, PAGE, [])).toThrow(RangeError);
    expect(() => b.svmGetAttr(m.address, 1n << 64n, [])).toThrow(RangeError);
    expect(() => b.svmGetAttr(m.address, PAGE, [{ type: T.GRANULARITY, value: -1 }])).toThrow(RangeError);
    expect(() => b.svmGetAttr(m.address, PAGE, [{ type: 1.5, value: 0 }])).toThrow(TypeError);
  });
});

describe('SET order: check_attr, then the VM, then svm_range_is_valid', () => {
  it('unknown attribute type → EINVAL even on unmapped memory and with no VM', async () => {
    const b = createSimBackend({ profile: twoGpus() });
    expect(await errnoOf(b.svmSetAttr(0x1000n, PAGE, [{ type: 99, value: 0 }]))).toBe('EINVAL');
  });

  it('unknown gpu_id in PREFERRED_LOC / PREFETCH_LOC / ACCESS* → EINVAL before the range is looked at', async () => {
    const b = simWithVms(twoGpus());
    const unmapped = 0x1000n;
    for (const type of [T.PREFERRED_LOC, T.PREFETCH_LOC, T.ACCESS, T.ACCESS_IN_PLACE, T.NO_ACCESS]) {
      expect(await errnoOf(b.svmSetAttr(unmapped, PAGE, [{ type, value: 0x9999 }]))).toBe('EINVAL');
    }
    // The same span with valid attributes reaches svm_range_is_valid: EFAULT. So the EINVAL above came
    // from svm_range_check_attr.
    expect(await errnoOf(b.svmSetAttr(unmapped, PAGE, [{ type: T.ACCESS, value: A }]))).toBe('EFAULT');
  });

  it('PREFERRED_LOC accepts SYSMEM and UNDEFINED; PREFETCH_LOC accepts SYSMEM but not UNDEFINED', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(1 << 20);
    const sz = BigInt(m.size);
    expect(await errnoOf(b.svmSetAttr(m.address, sz, [{ type: T.PREFERRED_LOC, value: SvmLocation.UNDEFINED }]))).toBe('OK');
    expect(await errnoOf(b.svmSetAttr(m.address, sz, [{ type: T.PREFERRED_LOC, value: SvmLocation.SYSMEM }]))).toBe('OK');
    expect(await errnoOf(b.svmSetAttr(m.address, sz, [{ type: T.PREFETCH_LOC, value: SvmLocation.SYSMEM }]))).toBe('OK');
    expect(await errnoOf(b.svmSetAttr(m.address, sz, [{ type: T.PREFETCH_LOC, value: SvmLocation.UNDEFINED }]))).toBe('EINVAL');
  });

  it('a GPU without SVM support (not in bitmap_supported) → EINVAL', async () => {
    const p = machine([gpu({ gpuId: A, drmRenderMinor: 128 }), gpu({ gpuId: B, drmRenderMinor: 129, svmSupported: false })]);
    const b = simWithVms(p);
    const m = b.alloc(1 << 20);
    expect(await errnoOf(b.svmSetAttr(m.address, PAGE, [{ type: T.ACCESS, value: B }]))).toBe('EINVAL');
    expect(await errnoOf(b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: B }]))).toBe('EINVAL');
    expect(await errnoOf(b.svmSetAttr(m.address, PAGE, [{ type: T.ACCESS, value: A }]))).toBe('OK');
    // GET names it fine (kfd_process_gpuidx_from_gpuid knows it) and answers NO_ACCESS.
    expect(b.svmGetAttr(m.address, PAGE, [{ type: T.ACCESS, value: B }])).toEqual([{ type: T.NO_ACCESS, value: B }]);
  });

  it('no GPU VM acquired → EINVAL after check_attr and before the range check', async () => {
    const b = createSimBackend({ profile: twoGpus() });
    const m = b.alloc(1 << 20);
    expect(await errnoOf(b.svmSetAttr(m.address, PAGE, [{ type: T.GRANULARITY, value: 9 }]))).toBe('EINVAL');
    // Unmapped span: still EINVAL (the VM check comes before svm_range_is_valid's EFAULT).
    expect(await errnoOf(b.svmSetAttr(0x1000n, PAGE, [{ type: T.GRANULARITY, value: 9 }]))).toBe('EINVAL');
    b.acquireVm(A, 128);
    expect(await errnoOf(b.svmSetAttr(m.address, PAGE, [{ type: T.GRANULARITY, value: 9 }]))).toBe('OK');
    expect(await errnoOf(b.svmSetAttr(0x1000n, PAGE, [{ type: T.GRANULARITY, value: 9 }]))).toBe('EFAULT');
  });

  it('start + size past 2^64 → EOVERFLOW (check_add_overflow), before the VMA walk', async () => {
    const b = simWithVms(twoGpus());
    const start = (1n << 64n) - PAGE;
    expect(await errnoOf(b.svmSetAttr(start, 2n * PAGE, []))).toBe('EOVERFLOW');
    expect(await errnoOf(() => b.svmGetAttr(start, 2n * PAGE, []))).toBe('EOVERFLOW');
    // Ending exactly at 2^64 wraps to 0: overflow too.
    expect(await errnoOf(() => b.svmGetAttr(start, PAGE, []))).toBe('EOVERFLOW');
    expect(await errnoOf(() => b.svmGetAttr(start - PAGE, PAGE, []))).toBe('EFAULT');
  });

  it('span not fully mapped → EFAULT: unmapped, partly mapped, freed, across a hole', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(2 * 1024 * 1024);
    const set = (s: bigint, n: bigint): Promise<string> => errnoOf(b.svmSetAttr(s, n, []));
    expect(await set(m.address, BigInt(m.size))).toBe('OK');
    expect(await set(m.address, BigInt(m.size) + PAGE)).toBe('EFAULT');
    expect(await set(m.address - PAGE, 2n * PAGE)).toBe('EFAULT');
    const other = b.alloc(4096); // right below m, so the VMAs merge
    expect(other.address + PAGE).toBe(m.address);
    expect(await set(other.address, 2n * PAGE)).toBe('OK');
    other.free();
    expect(await set(other.address, 2n * PAGE)).toBe('EFAULT');
    expect(await errnoOf(() => b.svmGetAttr(other.address, PAGE, []))).toBe('EFAULT');
  });

  it('device memory (VM_IO | VM_PFNMAP) → EFAULT for SET and GET', async () => {
    const b = simWithVms(twoGpus());
    const anon = b.alloc(4096);
    const dev = b.mapDevice(4096);
    expect(await errnoOf(b.svmSetAttr(dev.address, PAGE, []))).toBe('EFAULT');
    expect(await errnoOf(() => b.svmGetAttr(dev.address, PAGE, []))).toBe('EFAULT');
    // The device mapping sits right below the anonymous one; a span over both is refused too.
    expect(dev.address + PAGE).toBe(anon.address);
    expect(await errnoOf(b.svmSetAttr(dev.address, 2n * PAGE, []))).toBe('EFAULT');
    expect(await errnoOf(b.svmSetAttr(anon.address, PAGE, []))).toBe('OK');
  });

  it('an overflow and an unknown attribute: the attribute is checked first (EINVAL), then the range', async () => {
    const b = simWithVms(twoGpus());
    const start = (1n << 64n) - PAGE;
    expect(await errnoOf(b.svmSetAttr(start, 2n * PAGE, [{ type: 8, value: 0 }]))).toBe('EINVAL');
  });
});

describe('mapping needs a GPU VM on every GPU with access', () => {
  it('SET ACCESS for a GPU without a VM applies the attribute, then answers EINVAL (svm_range_map_to_gpus)', async () => {
    const b = createSimBackend({ profile: twoGpus() });
    b.acquireVm(A, 128);
    const m = b.alloc(4096);
    expect(await errnoOf(b.svmSetAttr(m.address, PAGE, [{ type: T.ACCESS, value: B }]))).toBe('EINVAL');
    expect(b.svmGetAttr(m.address, PAGE, [{ type: T.ACCESS, value: B }])[0]!.type).toBe(T.ACCESS);
    expect(b.ranges()[0]!.mappedToGpu).toBe(false);
    b.acquireVm(B, 129);
    expect(await errnoOf(b.svmSetAttr(m.address, PAGE, [{ type: T.ACCESS, value: B }]))).toBe('OK');
    expect(b.ranges()[0]!.mappedToGpu).toBe(true);
  });
});

describe('GET order: svm_range_is_valid first, then the types, then the gpu_ids', () => {
  const b = simWithVms(twoGpus());
  const m = b.alloc(1 << 20);

  it('unmapped → EFAULT even with a type GET rejects', async () => {
    expect(await errnoOf(() => b.svmGetAttr(0x1000n, PAGE, [{ type: T.NO_ACCESS, value: A }]))).toBe('EFAULT');
  });

  it('ACCESS_IN_PLACE and NO_ACCESS are not GET types; nor is an unknown type → EINVAL', async () => {
    for (const type of [T.ACCESS_IN_PLACE, T.NO_ACCESS, 8, 99]) {
      expect(await errnoOf(() => b.svmGetAttr(m.address, PAGE, [{ type, value: A }]))).toBe('EINVAL');
    }
  });

  it('ACCESS with an unknown gpu_id → EINVAL', async () => {
    expect(await errnoOf(() => b.svmGetAttr(m.address, PAGE, [{ type: T.ACCESS, value: 0x9999 }]))).toBe('EINVAL');
  });

  it('GET needs no GPU VM', async () => {
    const noVm = createSimBackend({ profile: twoGpus() });
    const mm = noVm.alloc(4096);
    expect(await errnoOf(() => noVm.svmGetAttr(mm.address, PAGE, [{ type: T.GRANULARITY, value: 0 }]))).toBe('OK');
  });

  it('errors carry syscall ioctl and the request name; other ioctls name themselves', () => {
    try {
      b.availableMemory(0x9999);
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'EINVAL', errno: Errno.EINVAL, syscall: 'ioctl', request: 'AMDKFD_IOC_AVAILABLE_MEMORY' });
    }
    expect(() => b.openSmiEvents(0x9999, 1n)).toThrow(expect.objectContaining({ code: 'EINVAL', request: 'AMDKFD_IOC_SMI_EVENTS' }));
    expect(() => b.acquireVm(0x9999, 128)).toThrow(expect.objectContaining({ code: 'EINVAL', request: 'AMDKFD_IOC_ACQUIRE_VM' }));
  });

  it('a 2 MiB-aligned mapping is 2 MiB aligned', () => {
    const a = b.alloc(4096, { align2M: true });
    expect(a.address % MB2).toBe(0n);
  });
});

describe('close', () => {
  it('is idempotent; later calls throw EBADF', () => {
    const b = simWithVms(twoGpus());
    b.close();
    b.close();
    expect(() => b.getXnack()).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => b.svmGetAttr(0x1000n, PAGE, [])).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});
