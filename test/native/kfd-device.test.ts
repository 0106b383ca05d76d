/**
 * Against a real /dev/kfd (skipped where there is none, as on the development machine; the QEMU helper runs
 * it in a guest with the real amdgpu driver). Written for a CPU-only KFD: GET_VERSION works; with
 * CONFIG_HSA_AMD_SVM the GET defaults come back and every SET is EINVAL (no GPU VM: svm_range_set_attr
 * checks p->kgd_process_info); without it every SVM and SET_XNACK_MODE call is EPERM (kfd_chardev.c stubs).
 * Run in a guest with scripts/native/run-in-guest.sh (all 9 pass on Linux 6.12.117, CONFIG_HSA_AMD_SVM=y).
 */
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SvmAttrType, SvmFlag, SvmLocation } from '../../src/backend/abi.js';
import type { Backend, MappedMemory } from '../../src/backend/contract.js';
import { KernelError } from '../../src/backend/errors.js';
import { openKfdBackend } from '../../src/backend/kfd/index.js';
import { fdCount } from './helpers.js';

const BOGUS_GPU = 12345;

describe.runIf(existsSync('/dev/kfd'))('real /dev/kfd', () => {
  let b: Backend;
  let svm: boolean; // does this kernel have CONFIG_HSA_AMD_SVM?
  let mem: MappedMemory;
  let dir: string;

  beforeAll(() => {
    b = openKfdBackend();
    try {
      b.getXnack();
      svm = true;
    } catch (e) {
      if (!(e instanceof KernelError) || e.code !== 'EPERM') throw e;
      svm = false;
    }
    mem = b.alloc(4 << 20, { align2M: true });
    dir = mkdtempSync(join(tmpdir(), 'kfd-real-'));
    symlinkSync('/dev/null', join(dir, 'renderD128'));
  });
  afterAll(() => {
    mem?.free();
    b?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('GET_VERSION: interface 1.x, at least 1.11', () => {
    const v = b.version();
    expect(v.major).toBe(1);
    expect(v.minor).toBeGreaterThanOrEqual(11);
  });

  it('the topology tree is readable through the backend', () => {
    expect(b.machine.topology?.readFile('generation_id')).toMatch(/^\d+\n?$/);
    expect(b.machine.topology?.listDir('nodes')?.length).toBeGreaterThan(0);
  });

  it('GET_PROCESS_APERTURES_NEW lists this process GPUs', () => {
    const ap = b.processApertures();
    expect(Array.isArray(ap)).toBe(true);
    for (const a of ap) {
      expect(a.gpuId).toBeGreaterThan(0);
      expect(a.gpuvmLimit).toBeGreaterThan(a.gpuvmBase);
    }
  });

  it('unknown gpu_id: AVAILABLE_MEMORY, SMI_EVENTS and ACQUIRE_VM are EINVAL', () => {
    const einval = (request: string) => expect.objectContaining({ name: 'KernelError', code: 'EINVAL', request });
    expect(() => b.availableMemory(BOGUS_GPU)).toThrow(einval('AMDKFD_IOC_AVAILABLE_MEMORY'));
    expect(() => b.openSmiEvents(BOGUS_GPU, 1n)).toThrow(einval('AMDKFD_IOC_SMI_EVENTS'));
    const b2 = openKfdBackend({ renderNodeBase: join(dir, 'renderD') });
    const before = fdCount();
    expect(() => b2.acquireVm(BOGUS_GPU, 128)).toThrow(einval('AMDKFD_IOC_ACQUIRE_VM'));
    expect(fdCount()).toBe(before); // the render fd opened for the refused call is closed again
    b2.close();
  });

  it('SET_XNACK_MODE: the mode round-trips (EPERM without SVM)', () => {
    if (!svm) {
      expect(() => b.setXnack(false)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      return;
    }
    const was = b.getXnack();
    b.setXnack(!was);
    expect(b.getXnack()).toBe(!was);
    b.setXnack(was);
    expect(b.getXnack()).toBe(was);
  });

  it('SVM GET_ATTR on memory with no range: the defaults (EPERM without SVM)', () => {
    const q = [
      { type: SvmAttrType.PREFERRED_LOC, value: 0 },
      { type: SvmAttrType.PREFETCH_LOC, value: 0 },
      { type: SvmAttrType.SET_FLAGS, value: 0 },
      { type: SvmAttrType.CLR_FLAGS, value: 0 },
      { type: SvmAttrType.GRANULARITY, value: 0 },
    ];
    if (!svm) {
      expect(() => b.svmGetAttr(mem.address, BigInt(mem.size), q)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      return;
    }
    const defaultFlags = SvmFlag.HOST_ACCESS | SvmFlag.COHERENT;
    expect(b.svmGetAttr(mem.address, BigInt(mem.size), q)).toEqual([
      { type: SvmAttrType.PREFERRED_LOC, value: SvmLocation.UNDEFINED },
      { type: SvmAttrType.PREFETCH_LOC, value: SvmLocation.UNDEFINED },
      { type: SvmAttrType.SET_FLAGS, value: defaultFlags },
      { type: SvmAttrType.CLR_FLAGS, value: ~defaultFlags >>> 0 },
      { type: SvmAttrType.GRANULARITY, value: 9 },
    ]);
  });

  it('SVM GET_ATTR over unmapped memory is EFAULT (svm_range_is_valid)', () => {
    if (!svm) return;
    const gone = b.alloc(4096);
    gone.free();
    expect(() => b.svmGetAttr(gone.address, 4096n, [{ type: SvmAttrType.GRANULARITY, value: 0 }])).toThrow(
      expect.objectContaining({ code: 'EFAULT' }),
    );
  });

  it('SVM SET_ATTR before any ACQUIRE_VM is EINVAL (EPERM without SVM), through the worker thread', async () => {
    await expect(
      b.svmSetAttr(mem.address, BigInt(mem.size), [{ type: SvmAttrType.PREFERRED_LOC, value: SvmLocation.SYSMEM }]),
    ).rejects.toMatchObject({ name: 'KernelError', code: svm ? 'EINVAL' : 'EPERM', syscall: 'ioctl', request: 'AMDKFD_IOC_SVM' });
  });

  it('an unknown SVM op is EINVAL (EPERM without SVM)', async () => {
    await expect(b.svmRaw(7, mem.address, BigInt(mem.size), [])).rejects.toMatchObject({ code: svm ? 'EINVAL' : 'EPERM' });
  });
});
