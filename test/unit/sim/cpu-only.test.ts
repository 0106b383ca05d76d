/**
 * What a real 6.1/6.12 kernel with CONFIG_HSA_AMD_SVM answered in QEMU without a GPU
 * (shared/reference/kfd-in-qemu.md §4), call for call, on the cpu-only profile.
 */
import { describe, expect, it } from 'vitest';
import { SvmAttrType as T, SvmFlag } from '../../../src/backend/abi.js';
import { createSimBackend } from '../../../src/backend/sim/index.js';
import { getProfile } from '../../../src/platform/profiles.js';

const code = async (p: Promise<unknown> | (() => unknown)): Promise<string> => {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'OK';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};

describe('cpu-only profile = the QEMU guest', () => {
  const b = createSimBackend({ profile: 'cpu-only' });
  const buf = b.alloc(0x400000);
  const size = BigInt(buf.size);

  it('GET_ATTR on a mapped span with no range: 0xffffffff / 0xffffffff / 9 / 0x3 / 0xfffffffc', () => {
    const got = b.svmGetAttr(buf.address, size, [
      { type: T.PREFERRED_LOC, value: 0 },
      { type: T.PREFETCH_LOC, value: 0 },
      { type: T.GRANULARITY, value: 0 },
      { type: T.SET_FLAGS, value: 0 },
      { type: T.CLR_FLAGS, value: 0 },
    ]);
    expect(got.map((a) => a.value)).toEqual([0xffffffff, 0xffffffff, 9, 0x3, 0xfffffffc]);
    // First 2 MiB alone: the same.
    const first = b.svmGetAttr(buf.address, 0x200000n, [
      { type: T.PREFERRED_LOC, value: 0 },
      { type: T.GRANULARITY, value: 0 },
    ]);
    expect(first.map((a) => a.value)).toEqual([0xffffffff, 9]);
  });

  it('every SET is EINVAL: valid, unaligned, size 0, start 0, unmapped, past TASK_SIZE, bad gpu ids, type 99, GRANULARITY 64, nattr 0', async () => {
    const valid = [
      { type: T.PREFERRED_LOC, value: 0 },
      { type: T.PREFETCH_LOC, value: 0 },
      { type: T.GRANULARITY, value: 9 },
      { type: T.SET_FLAGS, value: SvmFlag.HOST_ACCESS | SvmFlag.COHERENT },
    ];
    const cases: Array<[bigint, bigint, { type: number; value: number }[]]> = [
      [buf.address, size, valid],
      [buf.address + 1n, 4096n, valid],
      [buf.address, 4097n, valid],
      [buf.address, 0n, valid],
      [0n, 4096n, valid],
      [0x1000n, 4096n, valid],
      [1n << 47n, 4096n, valid],
      [buf.address, 4096n, [{ type: T.PREFERRED_LOC, value: 12345 }]],
      [buf.address, 4096n, [{ type: T.PREFETCH_LOC, value: 12345 }]],
      [buf.address, 4096n, [{ type: T.ACCESS, value: 12345 }]],
      [buf.address, 4096n, [{ type: T.PREFERRED_LOC, value: 0xffffffff }]],
      [buf.address, 4096n, [{ type: 99, value: 0 }]],
      [buf.address, 4096n, [{ type: T.GRANULARITY, value: 64 }]],
      [buf.address, 4096n, []],
    ];
    for (const [s, n, a] of cases) expect(await code(b.svmSetAttr(s, n, a))).toBe('EINVAL');
    // SET with GRANULARITY 64 did nothing: GET still answers 9.
    expect(b.svmGetAttr(buf.address, 4096n, [{ type: T.GRANULARITY, value: 0 }])[0]!.value).toBe(9);
  });

  it('GET on unmapped memory → EFAULT; GET ACCESS 12345 → EINVAL; GET type 99 → EINVAL; op 7 → EINVAL', async () => {
    expect(await code(() => b.svmGetAttr(0x1000n, 4096n, [{ type: T.GRANULARITY, value: 0 }]))).toBe('EFAULT');
    expect(await code(() => b.svmGetAttr(buf.address, 4096n, [{ type: T.ACCESS, value: 12345 }]))).toBe('EINVAL');
    expect(await code(() => b.svmGetAttr(buf.address, 4096n, [{ type: 99, value: 0 }]))).toBe('EINVAL');
    expect(await code(b.svmRaw(7, buf.address, 4096n, []))).toBe('EINVAL');
  });

  it('XNACK: query → on (vacuously true with no GPU), set 1 and set 0 both succeed and stick', () => {
    const x = createSimBackend({ profile: 'cpu-only' });
    expect(x.getXnack()).toBe(true);
    x.setXnack(true);
    expect(x.getXnack()).toBe(true);
    x.setXnack(false);
    expect(x.getXnack()).toBe(false);
  });

  it('GET_VERSION 1.17, no apertures, no render node to acquire a VM with', () => {
    expect(b.version()).toEqual({ major: 1, minor: 17 });
    expect(b.processApertures()).toEqual([]);
    expect(getProfile('cpu-only').gpus).toEqual([]);
    // The backend opens /dev/dri/renderD128 first, as libhsakmt does: with no GPU there is none.
    expect(() => b.acquireVm(12345, 128)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open' }));
  });
});
