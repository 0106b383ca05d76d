import { describe, expect, it } from 'vitest';
import { Errno } from '../../../src/backend/abi.js';
import { KernelError } from '../../../src/backend/errors.js';
import { SVM_ERROR_CODES, SvmError, defaultHint, toSvmError } from '../../../src/errors.js';
import { resolveGpu } from '../../../src/gpu.js';
import { resolveSpan } from '../../../src/span.js';
import { code } from './svm-error-code.js';


describe('resolveSpan', () => {
  const size = 16 * 4096;
  it('defaults to the whole buffer and accepts page-aligned spans inside it', () => {
    expect(resolveSpan(undefined, size)).toEqual({ offset: 0, length: size });
    expect(resolveSpan({ offset: 4096, length: size - 4096 }, size)).toEqual({ offset: 4096, length: size - 4096 });
  });
  it('rejects spans outside, unaligned, empty or malformed with ESPAN', () => {
    for (const bad of [
      { offset: 0, length: size + 4096 },
      { offset: size, length: 4096 },
      { offset: 1, length: 4096 },
      { offset: 0, length: 100 },
      { offset: 0, length: 0 },
      { offset: -4096, length: 4096 },
      { offset: 2 ** 60, length: 4096 },
      { offset: '0', length: 4096 },
      { offset: 0 },
      null,
      42,
    ]) {
      expect(code(() => resolveSpan(bad, size)), JSON.stringify(bad)).toBe('ESPAN');
    }
  });
});

describe('toSvmError', () => {
  it('keeps errno, syscall and request from a KernelError and names the code after the errno', () => {
    const e = toSvmError(new KernelError(Errno.EFAULT, 'ioctl', 'AMDKFD_IOC_SVM'), { op: 'register' });
    expect(e).toBeInstanceOf(SvmError);
    expect(e.code).toBe('EFAULT');
    expect(e.errno).toBe(14);
    expect(e.syscall).toBe('ioctl');
    expect(e.request).toBe('AMDKFD_IOC_SVM');
    expect(e.hint).toMatch(/mapped/);
    expect(e.cause).toBeInstanceOf(KernelError);
  });
  it('EPERM from the SVM ioctl means a kernel without SVM support', () => {
    const e = toSvmError(new KernelError(Errno.EPERM, 'ioctl', 'AMDKFD_IOC_SVM'), { op: 'set' });
    expect(e.code).toBe('ENOSVM');
    expect(e.errno).toBe(1);
    expect(e.hint).toMatch(/CONFIG_HSA_AMD_SVM/);
  });
  it('EPERM from the XNACK query is ENOSVM, from an XNACK set it stays EPERM', () => {
    const q = toSvmError(new KernelError(Errno.EPERM, 'ioctl', 'AMDKFD_IOC_SET_XNACK_MODE'), { op: 'xnack query' });
    const s = toSvmError(new KernelError(Errno.EPERM, 'ioctl', 'AMDKFD_IOC_SET_XNACK_MODE'), { op: 'setXnack' });
    expect(q.code).toBe('ENOSVM');
    expect(s.code).toBe('EPERM');
    expect(s.hint).toMatch(/XNACK/);
  });
  it('EINVAL from an SVM SET without a GPU VM is ENOGPU, otherwise EINVAL', () => {
    const k = new KernelError(Errno.EINVAL, 'ioctl', 'AMDKFD_IOC_SVM');
    expect(toSvmError(k, { op: 'alloc', noGpuVm: true }).code).toBe('ENOGPU');
    expect(toSvmError(k, { op: 'alloc' }).code).toBe('EINVAL');
  });
  it('open failures become ENODEV and EACCES with the owning group in the hint', () => {
    expect(toSvmError(new KernelError(Errno.ENOENT, 'open', '/dev/kfd'), { op: 'open' }).code).toBe('ENODEV');
    const acc = toSvmError(new KernelError(Errno.EACCES, 'open', '/dev/kfd'), { op: 'open', group: 'video' });
    expect(acc.code).toBe('EACCES');
    expect(acc.hint).toContain("'video'");
  });
  it('an unknown errno keeps its number under EKERNEL; a RangeError is EARG', () => {
    const e = toSvmError(new KernelError(121, 'ioctl', 'AMDKFD_IOC_SVM'), { op: 'x' });
    expect(e.code).toBe('EKERNEL');
    expect(e.errno).toBe(121);
    expect(toSvmError(new RangeError('size'), { op: 'x' }).code).toBe('EARG');
  });
  it('every code has a hint', () => {
    for (const c of SVM_ERROR_CODES) expect(defaultHint(c).length, c).toBeGreaterThan(10);
  });
});

describe('gpu helpers', () => {
  it('resolves gpu refs and rejects unknown ones', () => {
    const g = { gpuId: 7 } as never;
    expect(resolveGpu([g], 7)).toBe(g);
    expect(code(() => resolveGpu([g], 8))).toBe('EUNKNOWNGPU');
    expect(code(() => resolveGpu([g], 'gpu0'))).toBe('EARG');
  });
});
