/** kfd_ioctl_set_xnack_mode, and what XNACK means for a GPU touching memory it has no mapping for. */
import { describe, expect, it } from 'vitest';
import { SmiEvent, smiEventMask, SvmAttrType as T, SvmLocation as L } from '../../../src/backend/abi.js';
import { createSimBackend } from '../../../src/backend/sim/index.js';
import { A, ALL_EVENTS, B, gpu, lines, machine, MB2, PAGE, simWithVms, twoGpus } from './fixtures.js';

describe('XNACK mode (kfd_ioctl_set_xnack_mode)', () => {
  it('starts at the profile default', () => {
    expect(createSimBackend({ profile: twoGpus({ xnackDefault: false }) }).getXnack()).toBe(false);
    expect(createSimBackend({ profile: twoGpus({ xnackDefault: true }) }).getXnack()).toBe(true);
  });

  it('enabling with a GPU that cannot retry faults → EPERM; disabling, or setting the current value, works', () => {
    const p = machine([gpu({ gpuId: A, drmRenderMinor: 128 }), gpu({ gpuId: B, drmRenderMinor: 129, xnackSupported: false })]);
    const b = createSimBackend({ profile: p });
    expect(b.getXnack()).toBe(false);
    b.setXnack(false);
    expect(() => b.setXnack(true)).toThrow(expect.objectContaining({ code: 'EPERM', request: 'AMDKFD_IOC_SET_XNACK_MODE' }));
    expect(b.getXnack()).toBe(false);
    const on = createSimBackend({ profile: { ...p, xnackDefault: true } });
    on.setXnack(true); // already on: "p->xnack_enabled == args->xnack_enabled" returns before the EPERM check
    on.setXnack(false);
    expect(on.getXnack()).toBe(false);
  });

  it('with user queues any change → EBUSY, even to the current value; destroying the queue lifts it', () => {
    const b = simWithVms(twoGpus());
    const q = b.createQueue(A);
    expect(() => b.setXnack(true)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(() => b.setXnack(false)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(b.getXnack()).toBe(false); // the query still works
    q.destroy();
    b.setXnack(true);
    expect(b.getXnack()).toBe(true);
  });

  it('a queue needs a known GPU with a VM', () => {
    const b = createSimBackend({ profile: twoGpus() });
    expect(() => b.createQueue(A)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => b.createQueue(0x9999)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe('XNACK off keeps ranges resident: the system memory limit (amdgpu_amdkfd_reserve_mem_limit)', () => {
  // 1 GiB of RAM: limit = (1 GiB - 1/64) / 2 = 504 MiB; 2 MiB already taken by HMM page structs.
  const MiB = 1024n * 1024n;

  it('the limit and the initial use follow amdgpu_amdkfd_gpuvm_init_mem_limits and kgd2kfd_init_zone_device', () => {
    const b = simWithVms(twoGpus());
    expect(b.systemMemory()).toEqual({ used: 2n * MiB, limit: 504n * MiB });
  });

  it('registering more than the limit with XNACK off → ENOMEM, nothing registered; with XNACK on it works', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(600 * 1024 * 1024);
    await expect(b.svmSetAttr(m.address, 600n * MiB, [])).rejects.toMatchObject({ code: 'ENOMEM' });
    expect(b.ranges()).toEqual([]);
    await b.svmSetAttr(m.address, 400n * MiB, []);
    expect(b.systemMemory().used).toBe(402n * MiB);
    // Only the new part counts: re-setting the registered 400 MiB costs nothing.
    await expect(b.svmSetAttr(m.address, 600n * MiB, [])).rejects.toMatchObject({ code: 'ENOMEM' });
    await b.svmSetAttr(m.address, 500n * MiB, []);
    expect(b.systemMemory().used).toBe(502n * MiB);
    m.free();
    expect(b.systemMemory().used).toBe(2n * MiB);
    const on = simWithVms(twoGpus({ xnackDefault: true }));
    const n = on.alloc(600 * 1024 * 1024);
    await on.svmSetAttr(n.address, 600n * MiB, []);
    expect(on.systemMemory().used).toBe(2n * MiB);
  });

  it('switching XNACK off reserves every range: ENOMEM (mode unchanged) when they do not fit', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(600 * 1024 * 1024);
    await b.svmSetAttr(m.address, 600n * MiB, []);
    expect(() => b.setXnack(false)).toThrow(expect.objectContaining({ code: 'ENOMEM', request: 'AMDKFD_IOC_SET_XNACK_MODE' }));
    expect(b.getXnack()).toBe(true);
    const part = b.alloc(4096);
    part.free();
    m.free();
    b.setXnack(false);
    expect(b.getXnack()).toBe(false);
    expect(b.systemMemory().used).toBe(2n * MiB);
  });
});

describe('GPU access without a mapping', () => {
  it('XNACK off: a VM fault (VMFAULT event "pid:task"), no recovery, no migration', async () => {
    const b = simWithVms(twoGpus(), { pid: 0x4d2, taskName: 'bench' });
    const m = b.alloc(1 << 20);
    const ev = b.openSmiEvents(A, ALL_EVENTS);
    const r = await b.gpuAccess(A, m.address, PAGE, 'read');
    expect(r).toEqual({ vmFault: true, faults: 1 });
    expect(await lines(ev)).toEqual(['1 4d2:bench']);
    expect(b.counters().faults).toEqual({ cpu: 0, gpu: 0, vm: 1 });
    expect(b.counters().migrations).toBe(0);
  });

  it('XNACK off: once ACCESS maps the range the GPU reads it in place, without faults', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(1 << 20);
    await b.svmSetAttr(m.address, BigInt(m.size), [{ type: T.ACCESS, value: A }]);
    expect(await b.gpuAccess(A, m.address, BigInt(m.size), 'write')).toEqual({ vmFault: false, faults: 0 });
    // GPU B has no access: VM fault.
    expect((await b.gpuAccess(B, m.address, PAGE, 'read')).vmFault).toBe(true);
    expect(b.snapshot(m.address, BigInt(m.size))).toEqual([{ start: m.address, size: BigInt(m.size), location: 'system' }]);
  });

  it('XNACK on, unregistered memory: svm_range_restore_pages makes a range and migrates the 2 MiB granule to the faulting GPU', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }), { pid: 9 });
    const m = b.alloc(8 * 1024 * 1024, { align2M: true });
    const ev = b.openSmiEvents(A, ALL_EVENTS);
    const addr = m.address + 3n * MB2 + 5n * PAGE;
    const r = await b.gpuAccess(A, addr, PAGE, 'write');
    expect(r).toEqual({ vmFault: false, faults: 1 });
    const granule = m.address + 3n * MB2;
    // The new range: the default-granularity block around the address, with access for every SVM GPU.
    expect(b.ranges()).toEqual([
      expect.objectContaining({ start: granule, size: MB2, access: [A, B], preferredLoc: L.UNDEFINED, mappedToGpu: true }),
    ]);
    expect(b.snapshot(granule, MB2)).toEqual([{ start: granule, size: MB2, location: 'device-private', gpuId: A }]);
    const p = (x: bigint): string => (x >> 12n).toString(16);
    const a = A.toString(16);
    const got = await lines(ev);
    expect(got.map((l) => l.replace(/^(\w+) \d+ /, '$1 T '))).toEqual([
      `7 T -9 @${p(addr)}(${a}) W`,
      `5 T -9 @${p(granule)}(200) 0->${a} ffffffff:ffffffff 1`,
      `6 T -9 @${p(granule)}(200) 0->${a} 1`,
      `8 T -9 @${p(addr)}(${a}) M`,
    ]);
    // Mapped now: no second fault.
    expect(await b.gpuAccess(A, addr, PAGE, 'read')).toEqual({ vmFault: false, faults: 0 });
    expect(b.counters().faults.gpu).toBe(1);
  });

  it('XNACK on: one fault per granule the access crosses', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(8 * 1024 * 1024, { align2M: true });
    expect(await b.gpuAccess(A, m.address + MB2 - PAGE, 2n * PAGE, 'read')).toEqual({ vmFault: false, faults: 2 });
    expect(b.ranges()).toHaveLength(2);
  });

  it('XNACK on, GPU without access to the range: the fault cannot be recovered → VM fault', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(1 << 20);
    await b.svmSetAttr(m.address, BigInt(m.size), [{ type: T.NO_ACCESS, value: A }]);
    expect((await b.gpuAccess(A, m.address, PAGE, 'read')).vmFault).toBe(true);
    expect(b.counters().faults.vm).toBe(1);
  });

  it('XNACK on, preferred location system memory: the fault maps the pages where they are ("U")', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(1 << 20);
    await b.svmSetAttr(m.address, BigInt(m.size), [{ type: T.PREFERRED_LOC, value: L.SYSMEM }]);
    const ev = b.openSmiEvents(A, smiEventMask(SmiEvent.PAGE_FAULT_END, SmiEvent.MIGRATE_START));
    expect(await b.gpuAccess(A, m.address, PAGE, 'read')).toEqual({ vmFault: false, faults: 1 });
    const got = await lines(ev);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^8 \d+ -\d+ @[0-9a-f]+\(1111\) U$/);
    expect(b.snapshot(m.address, BigInt(m.size))[0]!.location).toBe('system');
  });

  it('XNACK on: the SET maps ACCESS_IN_PLACE GPUs at once (svm_range_validate_and_map), to the VRAM of a hive peer', async () => {
    const p = machine(
      [
        gpu({ gpuId: A, drmRenderMinor: 128, memoryKind: 'coherent', hiveId: 7n }),
        gpu({ gpuId: B, drmRenderMinor: 129, memoryKind: 'coherent', hiveId: 7n }),
      ],
      { xnackDefault: true },
    );
    const b = simWithVms(p);
    const m = b.alloc(1 << 20);
    const n = BigInt(m.size);
    await b.svmSetAttr(m.address, n, [{ type: T.ACCESS_IN_PLACE, value: B }, { type: T.PREFETCH_LOC, value: A }]);
    expect(b.snapshot(m.address, n)).toEqual([{ start: m.address, size: n, location: 'device-coherent', gpuId: A }]);
    expect(await b.gpuAccess(B, m.address, n, 'read')).toEqual({ vmFault: false, faults: 0 });
    expect(b.snapshot(m.address, n)[0]!.gpuId).toBe(A);
    // Without the hive, B cannot map A's VRAM (svm_range_map_to_gpus skips it) and its access faults;
    // with in-place access and the pages on a GPU outside its hive, the best restore location is RAM.
    const q = simWithVms(machine(p.gpus.map((g) => ({ ...g, hiveId: 0n })), { xnackDefault: true }));
    const mm = q.alloc(1 << 20);
    await q.svmSetAttr(mm.address, n, [{ type: T.ACCESS_IN_PLACE, value: B }, { type: T.PREFETCH_LOC, value: A }]);
    // svm_range_best_prefetch_location: an in-place GPU outside A's hive makes the best location RAM.
    expect(q.snapshot(mm.address, n)[0]!.location).toBe('system');
  });
});
