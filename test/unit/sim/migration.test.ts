/**
 * kfd_migrate.c as the model runs it: prefetch, CPU faults on device-private pages, in-place CPU access to
 * device-coherent pages, APUs, VRAM capacity and TTM eviction, the clock, and the events each step writes.
 */
import { describe, expect, it } from 'vitest';
import { SmiEvent, smiEventMask, SvmAttrType as T, SvmLocation as L } from '../../../src/backend/abi.js';
import { A, ALL_EVENTS, B, gpu, lines, machine, MB2, PAGE, simWithVms, twoGpus } from './fixtures.js';

const MiB = 1024n * 1024n;
const hex = (n: number | bigint): string => n.toString(16);
const pg = (a: bigint): string => hex(a >> 12n);
/** Event lines with the timestamp replaced by T. */
const shape = (ls: string[]): string[] => ls.map((l) => l.replace(/^(\w+) \d+ /, '$1 T '));

describe('prefetch (svm_range_trigger_migration)', () => {
  it('to a GPU: one MIGRATE_START/END pair per range, trigger PREFETCH, pages then on the GPU', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }), { pid: 5 });
    const m = b.alloc(4 * 1024 * 1024, { align2M: true });
    const ev = b.openSmiEvents(A, smiEventMask(SmiEvent.MIGRATE_START, SmiEvent.MIGRATE_END));
    await b.svmSetAttr(m.address, 4n * MiB, [{ type: T.PREFETCH_LOC, value: A }, { type: T.PREFERRED_LOC, value: A }]);
    // Two 2 MiB ranges (max_svm_range_pages = 512 on 64 MiB), handled last-added first (list_add order).
    const hi = m.address + MB2;
    expect(shape(await lines(ev))).toEqual([
      `5 T -5 @${pg(hi)}(200) 0->1111 1111:1111 0`,
      `6 T -5 @${pg(hi)}(200) 0->1111 0`,
      `5 T -5 @${pg(m.address)}(200) 0->1111 1111:1111 0`,
      `6 T -5 @${pg(m.address)}(200) 0->1111 0`,
    ]);
    expect(b.snapshot(m.address, 4n * MiB)).toEqual([{ start: m.address, size: 4n * MiB, location: 'device-private', gpuId: A }]);
    expect(b.counters()).toMatchObject({ migrations: 2, bytesMoved: { toDevice: 4 * 1024 * 1024, toSystem: 0 } });
    // GET answers the attribute, not the residency.
    expect(b.svmGetAttr(m.address, 4n * MiB, [{ type: T.PREFETCH_LOC, value: 0 }])[0]!.value).toBe(A);
  });

  it('again to the same GPU: MIGRATE_START only (no system page to collect, so no MIGRATE_END)', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }), { pid: 5 });
    const m = b.alloc(4096);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: A }]);
    const ev = b.openSmiEvents(A, ALL_EVENTS);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: A }]);
    // migrate_vma_collect still invalidates the span (the driver does not skip its own pages), so the
    // mapping made after the first prefetch is torn down: XNACK on → UNMAP_FROM_GPU, MMU_NOTIFY_MIGRATE.
    expect(shape(await lines(ev))).toEqual([
      `5 T -5 @${pg(m.address)}(1) 0->1111 1111:ffffffff 0`,
      `b T -5 @${pg(m.address)}(1) 1111 1`,
    ]);
    expect(b.counters().migrations).toBe(1);
  });

  it('a later SET of other attributes re-runs the prefetch (prefetch_loc stays set)', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(4096);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: A }]);
    await b.cpuAccess(m.address, PAGE, 'read'); // faults the page back
    expect(b.snapshot(m.address, PAGE)[0]!.location).toBe('system');
    await b.svmSetAttr(m.address, PAGE, [{ type: T.GRANULARITY, value: 0 }]);
    expect(b.snapshot(m.address, PAGE)[0]!.location).toBe('device-private');
  });

  it('to system memory: GPU → 0 with trigger PREFETCH; to another GPU: through system memory', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }), { pid: 5 });
    const m = b.alloc(4096);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: A }]);
    const evA = b.openSmiEvents(A, smiEventMask(SmiEvent.MIGRATE_START, SmiEvent.MIGRATE_END));
    const evB = b.openSmiEvents(B, smiEventMask(SmiEvent.MIGRATE_START, SmiEvent.MIGRATE_END));
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: B }]);
    const p = pg(m.address);
    // svm_migrate_vram_to_vram: A → RAM (reported on A), then RAM → B (reported on B); both say PREFETCH.
    expect(shape(await lines(evA))).toEqual([`5 T -5 @${p}(1) 1111->0 2222:ffffffff 0`, `6 T -5 @${p}(1) 1111->0 0`]);
    expect(shape(await lines(evB))).toEqual([`5 T -5 @${p}(1) 0->2222 2222:ffffffff 0`, `6 T -5 @${p}(1) 0->2222 0`]);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: L.SYSMEM }]);
    expect(b.snapshot(m.address, PAGE)).toEqual([{ start: m.address, size: PAGE, location: 'system' }]);
    expect(b.counters().bytesMoved).toEqual({ toDevice: 8192, toSystem: 8192 });
  });

  it('XNACK off with several GPUs having access outside one hive: the best location is system memory', async () => {
    const b = simWithVms(twoGpus());
    const m = b.alloc(4096);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.ACCESS, value: B }, { type: T.PREFETCH_LOC, value: A }]);
    expect(b.snapshot(m.address, PAGE)[0]!.location).toBe('system');
    expect(b.counters().migrations).toBe(0);
  });

  it('XNACK off: migrating a GPU-mapped range stops the queues of every GPU and restores them after', async () => {
    const b = simWithVms(twoGpus(), { pid: 5 });
    const m = b.alloc(4096);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.ACCESS, value: A }]);
    const ev = b.openSmiEvents(B, ALL_EVENTS);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: A }]);
    expect(shape(await lines(ev))).toEqual(['9 T -5 2222 0', 'a T -5 2222 0']);
    expect(b.counters().queueEvictions).toBe(1);
  });

  it('XNACK on: migrating a GPU-mapped range unmaps it from the GPUs (UNMAP_FROM_GPU, MMU_NOTIFY_MIGRATE)', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }), { pid: 5 });
    const m = b.alloc(4096);
    await b.gpuAccess(A, m.address, PAGE, 'read'); // faults in, maps on A (the page goes to A's VRAM)
    const ev = b.openSmiEvents(A, smiEventMask(SmiEvent.UNMAP_FROM_GPU));
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: L.SYSMEM }]);
    expect(shape(await lines(ev))).toEqual([`b T -5 @${pg(m.address)}(1) 1111 1`]);
    expect(b.counters().queueEvictions).toBe(0);
  });
});

describe('device kinds', () => {
  it('coherent: CPU reads and writes migrated pages in place, nothing moves', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(4 * 1024 * 1024);
    const n = BigInt(m.size);
    await b.svmSetAttr(m.address, n, [{ type: T.PREFETCH_LOC, value: B }]);
    const before = b.counters();
    await b.cpuAccess(m.address, n, 'read');
    await b.cpuAccess(m.address, n, 'write');
    expect(b.counters()).toEqual(before);
    expect(b.snapshot(m.address, n)).toEqual([{ start: m.address, size: n, location: 'device-coherent', gpuId: B }]);
  });

  it('private: a CPU touch faults back the granularity-sized, aligned chunk (svm_migrate_to_ram)', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }), { pid: 5 });
    const m = b.alloc(8 * 1024 * 1024, { align2M: true });
    await b.svmSetAttr(m.address, 8n * MiB, [{ type: T.PREFETCH_LOC, value: A }]);
    const ev = b.openSmiEvents(A, smiEventMask(SmiEvent.MIGRATE_START, SmiEvent.MIGRATE_END));
    const touch = m.address + 3n * MiB + 123n;
    await b.cpuAccess(touch, 1n, 'read');
    const g = m.address + 2n * MiB;
    expect(b.snapshot(m.address, 8n * MiB)).toEqual([
      { start: m.address, size: 2n * MiB, location: 'device-private', gpuId: A },
      { start: g, size: 2n * MiB, location: 'system' },
      { start: g + 2n * MiB, size: 4n * MiB, location: 'device-private', gpuId: A },
    ]);
    expect(shape(await lines(ev))).toEqual([
      `5 T -5 @${pg(g)}(200) 1111->0 1111:ffffffff 2`,
      `6 T -5 @${pg(g)}(200) 1111->0 2`,
    ]);
    expect(b.counters().faults.cpu).toBe(1);
  });

  it('copies in and out of memory (read/write, for runtimes without external buffers) are CPU accesses', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }), { pid: 5 });
    const m = b.alloc(8 * 1024 * 1024, { align2M: true });
    await b.svmSetAttr(m.address, 4n * MiB, [{ type: T.PREFETCH_LOC, value: A }]);
    await b.svmSetAttr(m.address + 4n * MiB, 4n * MiB, [{ type: T.PREFETCH_LOC, value: B }]);
    // Device-private pages fault back granule by granule (svm_migrate_to_ram), as the addon's memcpy makes them.
    const out = new Uint8Array(16);
    m.read(Number(2n * MiB) - 8, out); // the last bytes of granule 0 and the first of granule 1
    expect(b.counters().faults.cpu).toBe(2);
    m.write(Number(3n * MiB), new Uint8Array([1, 2, 3]));
    expect(b.counters().faults.cpu).toBe(2); // granule 1 is in RAM already
    // Coherent pages are read and written in place.
    m.write(Number(5n * MiB), new Uint8Array([4]));
    m.read(Number(5n * MiB), out);
    expect(b.counters().faults.cpu).toBe(2);
    expect(b.snapshot(m.address, 8n * MiB)).toEqual([
      { start: m.address, size: 4n * MiB, location: 'system' },
      { start: m.address + 4n * MiB, size: 4n * MiB, location: 'device-coherent', gpuId: B },
    ]);
    expect(out[0]).toBe(4);
    // A write is a CPU access too: back on A, each granule it touches faults back once.
    await b.svmSetAttr(m.address, 4n * MiB, [{ type: T.PREFETCH_LOC, value: A }]);
    m.write(0, new Uint8Array([9]));
    expect(b.counters().faults.cpu).toBe(3);
    m.write(Number(2n * MiB), new Uint8Array([8, 8]));
    expect(b.counters().faults.cpu).toBe(4);
    m.write(Number(2n * MiB) + 2, new Uint8Array([7]));
    expect(b.counters().faults.cpu).toBe(4);
  });

  it('a write the simulator cannot back (a mapping above maxBackedBytes) is refused before any page faults', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }), { maxBackedBytes: 1024 * 1024 });
    const m = b.alloc(4 * 1024 * 1024, { align2M: true });
    await b.svmSetAttr(m.address, 4n * MiB, [{ type: T.PREFETCH_LOC, value: A }]);
    expect(() => m.write(0, new Uint8Array([1]))).toThrow(RangeError);
    expect(b.counters().faults.cpu).toBe(0);
    expect(b.snapshot(m.address, 4n * MiB)).toEqual([{ start: m.address, size: 4n * MiB, location: 'device-private', gpuId: A }]);
  });

  it('private with granularity 0: one page per fault; a span touches each page once', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(16 * 4096);
    const n = BigInt(m.size);
    await b.svmSetAttr(m.address, n, [{ type: T.GRANULARITY, value: 0 }, { type: T.PREFETCH_LOC, value: A }]);
    await b.cpuAccess(m.address + 4n * PAGE, 3n * PAGE, 'write');
    expect(b.counters().faults.cpu).toBe(3);
    expect(b.snapshot(m.address, n).map((r) => [r.location, r.size / PAGE])).toEqual([
      ['device-private', 4n],
      ['system', 3n],
      ['device-private', 9n],
    ]);
  });

  it('apu: a prefetch to the GPU leaves the pages in system memory (best location 0 on AMD_IS_APU)', async () => {
    const p = machine([gpu({ gpuId: A, drmRenderMinor: 128, memoryKind: 'apu', vramBytes: 512 * 1024 * 1024 })], { xnackDefault: true });
    const b = simWithVms(p);
    const m = b.alloc(1 << 20);
    const ev = b.openSmiEvents(A, ALL_EVENTS);
    await b.svmSetAttr(m.address, BigInt(m.size), [{ type: T.PREFETCH_LOC, value: A }]);
    expect(b.svmGetAttr(m.address, BigInt(m.size), [{ type: T.PREFETCH_LOC, value: 0 }])[0]!.value).toBe(A);
    expect(b.snapshot(m.address, BigInt(m.size))[0]!.location).toBe('system');
    // A GPU fault maps in place ("U"), never migrates.
    await b.svmSetAttr(m.address, BigInt(m.size), [{ type: T.NO_ACCESS, value: A }]);
    await b.svmSetAttr(m.address, BigInt(m.size), [{ type: T.ACCESS, value: A }]);
    expect(await b.gpuAccess(A, m.address, PAGE, 'read')).toMatchObject({ vmFault: false });
    const got = await lines(ev);
    expect(got.some((l) => l.startsWith('5 '))).toBe(false);
    expect(b.counters().migrations).toBe(0);
    expect(b.vram(A).capacity).toBe(0n);
  });
});

describe('VRAM capacity and eviction', () => {
  it('availableMemory is the kernel figure: VRAM less the page-table reserve, 2 MiB aligned, not SVM use', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    // total = 1 GiB RAM + 2 × 64 MiB VRAM; reserve = max(total >> 14, 8 MiB) = 8 MiB.
    expect(b.availableMemory(A)).toBe(56n * MiB);
    const m = b.alloc(8 * 1024 * 1024);
    await b.svmSetAttr(m.address, 8n * MiB, [{ type: T.PREFETCH_LOC, value: A }]);
    expect(b.availableMemory(A)).toBe(56n * MiB);
    expect(b.vram(A)).toEqual({ used: 8n * MiB, resident: 8n * MiB, capacity: 56n * MiB });
  });

  it('a BO is as large as its range (svm_range_vram_node_new) and is freed when the range has no VRAM page left', async () => {
    // 1 GiB of VRAM: max_svm_range_pages = 8192, so an 8 MiB registration is one range.
    const p = machine([gpu({ gpuId: A, drmRenderMinor: 128, vramBytes: 1024 * 1024 * 1024 })], { xnackDefault: true });
    const b = simWithVms(p);
    const m = b.alloc(8 * 1024 * 1024, { align2M: true });
    await b.svmSetAttr(m.address, 8n * MiB, [{ type: T.GRANULARITY, value: 9 }]);
    expect(b.ranges()).toHaveLength(1);
    await b.gpuAccess(A, m.address, PAGE, 'read'); // one 2 MiB granule moves
    expect(b.vram(A)).toMatchObject({ used: 8n * MiB, resident: 2n * MiB });
    await b.cpuAccess(m.address, PAGE, 'read'); // and comes back: the range has no VRAM page, the BO goes
    expect(b.vram(A)).toMatchObject({ used: 0n, resident: 0n });
  });

  it('when VRAM is full TTM evicts the least recently used ranges to RAM (TTM_EVICTION)', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }), { pid: 5 });
    const bufs = [0, 1, 2].map(() => b.alloc(24 * 1024 * 1024, { align2M: true }));
    const ev = b.openSmiEvents(A, smiEventMask(SmiEvent.MIGRATE_END));
    for (const x of bufs.slice(0, 2)) await b.svmSetAttr(x.address, 24n * MiB, [{ type: T.PREFETCH_LOC, value: A }]);
    expect(b.counters().evictions).toBe(0);
    await lines(ev); // 24 lines; the fifo keeps what fits
    const ev2 = b.openSmiEvents(A, smiEventMask(SmiEvent.MIGRATE_END));
    await b.svmSetAttr(bufs[2]!.address, 24n * MiB, [{ type: T.PREFETCH_LOC, value: A }]);
    // 56 MiB of VRAM: the third 24 MiB needs 16 MiB more than is free: eight 2 MiB ranges are evicted.
    expect(b.counters().evictions).toBe(8);
    expect(b.vram(A).used).toBe(56n * MiB);
    const sys = (x: { address: bigint }): bigint =>
      b.snapshot(x.address, 24n * MiB).filter((r) => r.location === 'system').reduce((s, r) => s + r.size, 0n);
    expect(sys(bufs[0]!)).toBe(16n * MiB);
    expect(sys(bufs[1]!)).toBe(0n);
    expect(sys(bufs[2]!)).toBe(0n);
    const got = await lines(ev2);
    expect(got.filter((l) => / 1111->0 3$/.test(l)).length).toBeGreaterThan(0);
  });

  it('a prefetch that reuses its BOs makes them the most recently used: TTM evicts the other ranges first', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }), { pid: 5 });
    const bufs = [0, 1, 2].map(() => b.alloc(24 * 1024 * 1024, { align2M: true }));
    for (const x of bufs.slice(0, 2)) await b.svmSetAttr(x.address, 24n * MiB, [{ type: T.PREFETCH_LOC, value: A }]);
    // Again on the first buffer: its pages are there already, its BOs move to the LRU tail.
    await b.svmSetAttr(bufs[0]!.address, 24n * MiB, [{ type: T.PREFETCH_LOC, value: A }]);
    expect(b.counters().evictions).toBe(0);
    await b.svmSetAttr(bufs[2]!.address, 24n * MiB, [{ type: T.PREFETCH_LOC, value: A }]);
    expect(b.counters().evictions).toBe(8);
    const sys = (x: { address: bigint }): bigint =>
      b.snapshot(x.address, 24n * MiB).filter((r) => r.location === 'system').reduce((s, r) => s + r.size, 0n);
    expect(sys(bufs[0]!)).toBe(0n);
    expect(sys(bufs[1]!)).toBe(16n * MiB);
    expect(sys(bufs[2]!)).toBe(0n);
  });

  it('a range partly in VRAM keeps its BO and its count while pages come and go granule by granule', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(4 * 4096);
    const size = 4n * PAGE;
    await b.svmSetAttr(m.address, size, [
      { type: T.GRANULARITY, value: 0 },
      { type: T.PREFERRED_LOC, value: A },
    ]);
    // Two GPU faults bring pages 0 and 1 to A's VRAM, one granule (one page) each.
    await b.gpuAccess(A, m.address, PAGE, 'read');
    await b.gpuAccess(A, m.address + PAGE, PAGE, 'read');
    // A CPU fault on page 0 takes it back to RAM; page 1 is still in VRAM, so the range keeps its BO.
    await b.cpuAccess(m.address, PAGE, 'read');
    expect(b.vram(A)).toMatchObject({ used: size, resident: PAGE });
    // The range is still on A (actual_loc): a prefetch to RAM moves page 1 back and frees the BO.
    await b.svmSetAttr(m.address, size, [{ type: T.PREFETCH_LOC, value: L.SYSMEM }]);
    expect(b.snapshot(m.address, size)).toEqual([{ start: m.address, size, location: 'system' }]);
    expect(b.vram(A)).toMatchObject({ used: 0n, resident: 0n });
  });

  it('a GPU fault that sends one granule of a range prefetched whole back to RAM leaves the rest in VRAM', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(4 * 4096);
    const size = 4n * PAGE;
    await b.svmSetAttr(m.address, size, [
      { type: T.GRANULARITY, value: 0 },
      { type: T.PREFERRED_LOC, value: L.SYSMEM },
    ]);
    // The whole range to A in one piece (the model keeps that as the range's flag, not as a run).
    await b.svmSetAttr(m.address, size, [{ type: T.PREFETCH_LOC, value: A }]);
    expect(b.vram(A)).toMatchObject({ used: size, resident: size });
    // B faults on page 1: svm_range_best_restore_location is the preferred SYSMEM, so that granule (one
    // page) migrates to RAM (svm_migrate_vram_to_ram, PAGEFAULT_GPU); the other three stay on A.
    await b.gpuAccess(B, m.address + PAGE, PAGE, 'read');
    expect(b.snapshot(m.address, size)).toEqual([
      { start: m.address, size: PAGE, location: 'device-private', gpuId: A },
      { start: m.address + PAGE, size: PAGE, location: 'system' },
      { start: m.address + 2n * PAGE, size: 2n * PAGE, location: 'device-private', gpuId: A },
    ]);
    expect(b.vram(A)).toMatchObject({ used: size, resident: 3n * PAGE });
    // A prefetch to RAM then moves the three back and frees the BO.
    await b.svmSetAttr(m.address, size, [{ type: T.PREFETCH_LOC, value: L.SYSMEM }]);
    expect(b.snapshot(m.address, size)).toEqual([{ start: m.address, size, location: 'system' }]);
    expect(b.vram(A)).toMatchObject({ used: 0n, resident: 0n });
  });

  it('TTM evicting a BO that split pieces of a range share sends every piece back to RAM', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const x = b.alloc(2 * 1024 * 1024, { align2M: true });
    await b.svmSetAttr(x.address, MB2, [{ type: T.PREFETCH_LOC, value: A }]);
    // A SET on one page in the middle splits the range in three; the pieces share its BO.
    await b.svmSetAttr(x.address + 256n * PAGE, PAGE, [{ type: T.PREFERRED_LOC, value: A }]);
    expect(b.ranges()).toHaveLength(3);
    expect(b.vram(A)).toMatchObject({ used: MB2, resident: MB2 });
    // Fill the rest of VRAM and then some: the shared BO is the least recently used one.
    const cap = b.vram(A).capacity;
    const y = b.alloc(Number(cap), { align2M: true });
    await b.svmSetAttr(y.address, cap, [{ type: T.PREFETCH_LOC, value: A }]);
    expect(b.counters().evictions).toBe(1);
    expect(b.snapshot(x.address, MB2)).toEqual([{ start: x.address, size: MB2, location: 'system' }]);
    expect(b.snapshot(y.address, cap)).toEqual([{ start: y.address, size: cap, location: 'device-private', gpuId: A }]);
    expect(b.vram(A)).toMatchObject({ used: cap, resident: cap });
  });

  /**
   * The order in which TTM's eviction worker sends a shared BO's ranges back (svm_range_evict_svm_bo_worker
   * takes list_first_entry of svm_bo->range_list) is the order of their MIGRATE events. A range joins that
   * list at the head (list_add in svm_range_clone and svm_range_split_adjust); a CPU unmap splits prange in
   * place (svm_range_unmap_split), so the piece left in prange keeps its place.
   * Machine: 12 MiB of VRAM, 4 MiB of it for SVM; one range R of 33 pages over three adjacent mappings
   * lo (16 pages), mid (1) and hi (16), inside one 2 MiB window so it stays one range.
   */
  async function sharedBoFixture(): Promise<{
    b: ReturnType<typeof simWithVms>;
    lo: { address: bigint; free(): void };
    mid: { free(): void };
    evictionOrder: () => Promise<number[]>;
  }> {
    const p = machine([gpu({ gpuId: A, drmRenderMinor: 128, vramBytes: 12 * 1024 * 1024 })], { xnackDefault: true });
    const b = simWithVms(p, { pid: 5 });
    expect(b.vram(A).capacity).toBe(4n * MiB);
    b.alloc(4096, { align2M: true });
    const hi = b.alloc(16 * 4096);
    const mid = b.alloc(4096);
    const lo = b.alloc(16 * 4096);
    expect(lo.address + 17n * PAGE).toBe(hi.address);
    await b.svmSetAttr(lo.address, 33n * PAGE, [{ type: T.PREFETCH_LOC, value: A }]);
    expect(b.ranges()).toHaveLength(1);
    // A SET on page 20 splits R: the clone [20] joins its BO, then the head [0..19], then the tail [21..32].
    await b.svmSetAttr(lo.address + 20n * PAGE, PAGE, [{ type: T.PREFERRED_LOC, value: A }]);
    expect(b.ranges()).toHaveLength(3);
    const evictionOrder = async (): Promise<number[]> => {
      const ev = b.openSmiEvents(A, smiEventMask(SmiEvent.MIGRATE_START));
      // 4 MiB of prefetch in two 2 MiB ranges: the second needs R's BO evicted.
      const y = b.alloc(4 * 1024 * 1024, { align2M: true });
      await b.svmSetAttr(y.address, 4n * MiB, [{ type: T.PREFETCH_LOC, value: A }]);
      expect(b.counters().evictions).toBe(1);
      const base = lo.address >> 12n;
      return (await lines(ev))
        .filter((l) => / 3$/.test(l))
        .map((l) => Number(BigInt(`0x${/@([0-9a-f]+)\(/.exec(l)![1]}`) - base));
    };
    return { b, lo, mid, evictionOrder };
  }

  it('TTM evicts the ranges of a shared BO last joined first (list_add, list_first_entry)', async () => {
    const { evictionOrder } = await sharedBoFixture();
    expect(await evictionOrder()).toEqual([21, 0, 20]);
  });

  it('a CPU unmap of the low part of a range of a shared BO keeps the high piece in its place', async () => {
    const { b, lo, evictionOrder } = await sharedBoFixture();
    lo.free(); // pages 0..15 of [0..19]: prange becomes [16..19], in place
    expect(b.ranges().map((r) => r.size / PAGE)).toEqual([4n, 1n, 12n]);
    expect(await evictionOrder()).toEqual([21, 16, 20]);
  });

  it('a CPU unmap splitting a range of a shared BO keeps the low piece in its place and puts the new one first', async () => {
    const { b, mid, evictionOrder } = await sharedBoFixture();
    mid.free(); // page 16, in the middle of [0..19]
    expect(b.ranges().map((r) => r.size / PAGE)).toEqual([16n, 3n, 1n, 12n]);
    expect(await evictionOrder()).toEqual([17, 21, 0, 20]);
  });

  it('with no VRAM to reserve the prefetch leaves the pages in RAM and the SET still succeeds', async () => {
    const p = machine([gpu({ gpuId: A, drmRenderMinor: 128, vramBytes: 8 * 1024 * 1024 })], { xnackDefault: true });
    const b = simWithVms(p);
    expect(b.availableMemory(A)).toBe(0n);
    const m = b.alloc(4096);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: A }]);
    expect(b.snapshot(m.address, PAGE)[0]!.location).toBe('system');
  });
});

describe('clock', () => {
  it('a migration costs latency + bytes / bandwidth of the host link, and events carry the clock', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }), { clockStartNs: 5_000 });
    const m = b.alloc(2 * 1024 * 1024, { align2M: true });
    const ev = b.openSmiEvents(A, smiEventMask(SmiEvent.MIGRATE_START, SmiEvent.MIGRATE_END));
    expect(b.clock()).toBe(5_000n);
    await b.svmSetAttr(m.address, MB2, [{ type: T.PREFETCH_LOC, value: A }]);
    // 4 GB/s, 1 µs: 2 MiB take 1000 + 2097152 / 4e9 s = 1000 + 524288 ns.
    expect(b.clock()).toBe(5_000n + 1_000n + 524_288n);
    const [start, end] = await lines(ev);
    expect(start).toMatch(/^5 5000 /);
    expect(end).toMatch(/^6 530288 /);
    // B's link is 8 GB/s, 500 ns.
    await b.svmSetAttr(m.address, MB2, [{ type: T.PREFETCH_LOC, value: B }]);
    expect(b.clock()).toBe(530_288n + 525_288n + 500n + 262_144n);
  });
});

describe('SMI event sources', () => {
  it('events go to the clients of the GPU they happen on, and only the masked ones', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(4096);
    const onA = b.openSmiEvents(A, smiEventMask(SmiEvent.MIGRATE_END));
    const onB = b.openSmiEvents(B, ALL_EVENTS);
    const startsOnly = b.openSmiEvents(A, smiEventMask(SmiEvent.MIGRATE_START));
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: A }]);
    expect((await lines(onA)).map((l) => l[0])).toEqual(['6']);
    expect((await lines(startsOnly)).map((l) => l[0])).toEqual(['5']);
    expect(await lines(onB)).toEqual([]);
  });

  it('setMask changes what arrives; an empty mask gets nothing', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(4096);
    const ev = b.openSmiEvents(A, 0n);
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: A }]);
    ev.setMask(smiEventMask(SmiEvent.MIGRATE_START));
    await b.svmSetAttr(m.address, PAGE, [{ type: T.PREFETCH_LOC, value: L.SYSMEM }]);
    expect((await lines(ev)).map((l) => l.slice(0, 1))).toEqual(['5']);
  });

  it('unknown gpu_id → EINVAL; a mask that is not a u64 → RangeError', () => {
    const b = simWithVms(twoGpus());
    expect(() => b.openSmiEvents(0x9999, 1n)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => b.openSmiEvents(A, 1n << 64n)).toThrow(RangeError);
  });

  it("ALL_PROCESS: another process's events reach only a root client that set the bit (kfd_smi_ev_enabled)", async () => {
    const all = smiEventMask(SmiEvent.VMFAULT, SmiEvent.ALL_PROCESS);
    const user = simWithVms(twoGpus());
    const e1 = user.openSmiEvents(A, all); // accepted without root, as the kernel accepts the write
    user.foreignVmFault(A, 0x99, 'other');
    expect(await lines(e1)).toEqual([]);
    const root = simWithVms(twoGpus(), { root: true });
    const e2 = root.openSmiEvents(A, all);
    const e3 = root.openSmiEvents(A, smiEventMask(SmiEvent.VMFAULT));
    root.foreignVmFault(A, 0x99, 'other');
    expect(await lines(e2)).toEqual(['1 99:other']);
    expect(await lines(e3)).toEqual([]);
  });

  it('the 1 KiB kfifo drops events that do not fit; a read returns what is queued', async () => {
    const b = simWithVms(twoGpus({ xnackDefault: true }));
    const m = b.alloc(64 * 4096);
    const ev = b.openSmiEvents(A, smiEventMask(SmiEvent.MIGRATE_START, SmiEvent.MIGRATE_END));
    for (let i = 0n; i < 64n; i++) await b.svmSetAttr(m.address + i * PAGE, PAGE, [{ type: T.PREFETCH_LOC, value: A }]);
    const chunk = await ev.read();
    expect(chunk.length).toBeLessThanOrEqual(1024);
    expect(chunk.endsWith('\n')).toBe(true);
    expect(chunk.split('\n').length - 1).toBeLessThan(128);
  });

  it('one read at a time; close ends a pending read with ""', async () => {
    const b = simWithVms(twoGpus());
    const ev = b.openSmiEvents(A, ALL_EVENTS);
    const pending = ev.read();
    await expect(ev.read()).rejects.toMatchObject({ code: 'EBUSY' });
    ev.close();
    expect(await pending).toBe('');
    expect(await ev.read()).toBe('');
    ev.close();
  });
});
