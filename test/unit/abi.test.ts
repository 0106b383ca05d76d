import { describe, expect, it } from 'vitest';
import { errnoName, smiEventMask, SmiEvent } from '../../src/backend/abi.js';
import { KernelError } from '../../src/backend/errors.js';

describe('abi helpers', () => {
  it('builds SMI masks as KFD_SMI_EVENT_MASK_FROM_INDEX does (bit event-1)', () => {
    expect(smiEventMask(SmiEvent.VMFAULT)).toBe(1n);
    expect(smiEventMask(SmiEvent.MIGRATE_START, SmiEvent.MIGRATE_END)).toBe(0b110000n);
    expect(smiEventMask(SmiEvent.ALL_PROCESS)).toBe(1n << 63n);
  });
  it('names errnos', () => {
    expect(errnoName(22)).toBe('EINVAL');
    expect(errnoName(-14)).toBe('EFAULT');
    expect(errnoName(999)).toBe('E999');
  });
  it('KernelError carries code, errno, syscall and request', () => {
    const e = new KernelError(22, 'ioctl', 'AMDKFD_IOC_SVM');
    expect(e).toMatchObject({ code: 'EINVAL', errno: 22, syscall: 'ioctl', request: 'AMDKFD_IOC_SVM' });
    expect(e.message).toContain('EINVAL');
  });
});
