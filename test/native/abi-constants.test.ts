/**
 * The addon's ABI constants (compiled from native/kfd_abi.h) against src/backend/abi.ts, which the kfd
 * backend passes to the addon and the simulator answers with: they must be the same numbers.
 */
import { describe, expect, it } from 'vitest';
import * as abi from '../../src/backend/abi.js';
import { addon } from './helpers.js';

const groups = ['SvmOp', 'SvmAttrType', 'SvmFlag', 'SvmLocation', 'SmiEvent', 'MigrateTrigger', 'QueueEvictionTrigger', 'UnmapTrigger'] as const;

describe('native ABI constants = src/backend/abi.ts', () => {
  it.each(groups)('%s: every name abi.ts defines has the native value', (g) => {
    const ts = abi[g] as Record<string, number>;
    const nat = addon.abi[g];
    for (const [k, v] of Object.entries(ts)) expect({ [k]: nat[k] }).toEqual({ [k]: v });
  });

  it.each(groups)('%s: every native name is in abi.ts', (g) => {
    const ts = abi[g] as Record<string, number>;
    const missing = Object.keys(addon.abi[g]).filter((k) => !(k in ts));
    expect(missing).toEqual([]);
  });

  it('page size and the SMI mask rule agree', () => {
    expect(addon.pageSize).toBe(abi.PAGE_SIZE);
    expect(1 << abi.PAGE_SHIFT).toBe(abi.PAGE_SIZE);
    expect(abi.smiEventMask(abi.SmiEvent.ALL_PROCESS)).toBe(1n << BigInt(addon.abi.SmiEvent.ALL_PROCESS! - 1));
  });

  it('the header describes KFD ioctl interface 1.17 (Linux 6.12)', () => {
    expect(addon.abi.headerVersion).toEqual({ major: 1, minor: 17 });
  });

  it('the SVM request carries the attribute array in its size bits, as libhsakmt builds it', () => {
    const base = addon.abi.ioctl.AMDKFD_IOC_SVM!;
    expect(base).toBe(0xc0184b20);
    for (const n of [0, 1, 5, 2044]) {
      const req = addon.abiSvmRequest(n);
      expect(req).toBe(base + ((n * 8) << 16));
      expect((req >>> 16) & 0x3fff).toBe(24 + n * 8); // _IOC_SIZE
      expect(req >>> 30).toBe(3); // still _IOC_READ | _IOC_WRITE: the size never spills into the direction
      expect(req & 0xffff).toBe(0x4b20); // type 'K', nr 0x20
    }
    expect(() => addon.abiSvmRequest(2045)).toThrow(RangeError);
  });
});
