/**
 * Resource leaks of the native layer, measured where the kernel keeps them: /proc/self/fd (every fd the
 * addon opens: the device, render nodes, SMI event fds and their wake-up eventfds), /proc/self/maps (every
 * mmap of memAlloc, including the head and tail it trims for 2 MiB alignment) and /proc/self/task (the
 * thread each SMI read runs on). Each scenario runs thousands of times in a fresh child process, through
 * the explicit path (close/free), the garbage-collected path (handles only dropped: finalizers), and calls
 * that fail half-way (after an fd was opened or a mapping made).
 *
 * fds and threads must come back exactly. Mappings are compared by total accessible size with a margin,
 * because V8 maps and unmaps its own heap as it pleases; every loop maps far more than the margin
 * (>= 400 MiB), so losing the munmaps fails it. (Whether one freed address is still mapped cannot be
 * asked: the allocator, V8 or ASan may map something new there at once.)
 */
import { describe, expect, it } from 'vitest';
import { childResult, fakeKfdShim, runChild } from './child.js';

const MIB = 1 << 20;
/**
 * What the process may add to its mappings while a loop runs without the addon leaking: V8 grows its heap
 * in steps, and under ASan (scripts/sanitize/run.sh) every thread also gets shadow and fake-stack memory.
 */
const UNDER_ASAN = /libasan/.test(process.env.LD_PRELOAD ?? '');
const MAPS_MARGIN = (UNDER_ASAN ? 256 : 64) * MIB;

interface Counts {
  fdsBefore: string[];
  fdsAfter: string[];
  mapsBefore: { count: number; bytes: number };
  mapsAfter: { count: number; bytes: number };
  [k: string]: unknown;
}

describe('device handles', () => {
  it('5000 open/close cycles, with ioctls and ACQUIRE_VM failing half-way, end with the fds they began with', () => {
    const r = childResult<Counts & { errors: Record<string, number> }>(
      runChild(`
        const errors = {};
        const note = (e) => { const k = e ? e.code : 'none'; errors[k] = (errors[k] ?? 0) + 1; };
        const warm = addon.kfdOpen('/dev/null'); addon.kfdClose(warm);
        const fdsBefore = h.fds(), mapsBefore = h.maps();
        for (let i = 0; i < 5000; i++) {
          note(h.errorOf(() => addon.kfdOpen('/nonexistent/kfd')));
          const d = addon.kfdOpen('/dev/null');
          note(h.errorOf(() => addon.kfdGetVersion(d, new Uint32Array(2))));
          // open(renderPath) succeeds, then the ioctl fails: the render fd must be closed again
          // (device.cc AcquireVm), or each iteration leaks one.
          note(h.errorOf(() => addon.kfdAcquireVm(d, i, '/dev/null')));
          note(h.errorOf(() => addon.kfdAcquireVm(d, i, '/nonexistent/renderD128')));
          note(h.errorOf(() => addon.kfdSmiOpen(d, i, 1n)));
          note(h.errorOf(() => addon.kfdGetProcessApertures(d)));
          addon.kfdClose(d);
          note(h.errorOf(() => addon.kfdGetVersion(d, new Uint32Array(2))));
          addon.kfdClose(d);
        }
        h.report({ fdsBefore, fdsAfter: h.fds(), mapsBefore, mapsAfter: h.maps(), errors });
      `),
    );
    expect(r.errors).toEqual({ ENOENT: 10000, ENOTTY: 20000, EBADF: 5000 });
    expect(r.fdsAfter).toEqual(r.fdsBefore);
  });

  it('device handles only dropped are closed by their finalizers (4 × 500)', () => {
    const r = childResult<Counts & { peak: number; back: boolean }>(
      runChild(`
        const fdsBefore = h.fds(), mapsBefore = h.maps();
        let peak = 0;
        for (let round = 0; round < 4; round++) {
          (() => {
            const ds = [];
            for (let i = 0; i < 500; i++) ds.push(addon.kfdOpen('/dev/null'));
            peak = Math.max(peak, h.fds().length - fdsBefore.length);
          })();
          await h.gcUntil(() => h.fds().length === fdsBefore.length);
        }
        const back = await h.gcUntil(() => h.fds().length === fdsBefore.length);
        h.report({ fdsBefore, fdsAfter: h.fds(), mapsBefore, mapsAfter: h.maps(), peak, back });
      `),
    );
    expect(r.peak).toBe(500);
    expect(r.back).toBe(true);
    expect(r.fdsAfter).toEqual(r.fdsBefore);
  });

  it('closing (or dropping) a device with SVM calls in flight releases its fd once the workers finish', () => {
    const r = childResult<Counts & { outcomes: Record<string, number>; back: boolean }>(
      runChild(`
        const fdsBefore = h.fds(), mapsBefore = h.maps();
        const outcomes = {};
        // Synchronous, so no suspended async frame keeps a stale reference to the handle.
        const start = (close) => {
          const d = addon.kfdOpen('/dev/null');
          const ps = [];
          for (let i = 0; i < 50; i++) ps.push(addon.kfdSvmAsync(d, 0, 4096n, 4096n, [{ type: 1, value: 0 }]));
          if (close) addon.kfdClose(d); // else d is only dropped, with its 50 calls still queued
          return ps;
        };
        for (let round = 0; round < 20; round++) {
          for (const s of await Promise.allSettled(start(round % 2 === 0))) {
            const k = s.status === 'fulfilled' ? 'fulfilled' : s.reason.code;
            outcomes[k] = (outcomes[k] ?? 0) + 1;
          }
        }
        const back = await h.gcUntil(() => h.fds().length === fdsBefore.length);
        h.report({ fdsBefore, fdsAfter: h.fds(), mapsBefore, mapsAfter: h.maps(), outcomes, back });
      `),
    );
    expect(r.outcomes).toEqual({ ENOTTY: 1000 });
    expect(r.back).toBe(true);
    expect(r.fdsAfter).toEqual(r.fdsBefore);
  });
});

describe('memory', () => {
  it('5000 alloc/free cycles (4 KiB .. 1 MiB, half 2 MiB-aligned) give every byte back', () => {
    const r = childResult<Counts & { mapped: number; wrongAlign: number }>(
      runChild(`
        addon.memFree(addon.memAlloc(4096).handle);
        const fdsBefore = h.fds(), mapsBefore = h.maps();
        let mapped = 0, wrongAlign = 0;
        for (let i = 0; i < 5000; i++) {
          const align = i % 2 === 0;
          const m = addon.memAlloc(4096 * (1 + (i * 37) % 256), align);
          mapped += m.size + (align ? 2 * 1024 * 1024 : 0);
          if (align && m.address % (2n << 20n) !== 0n) wrongAlign++;
          new Uint8Array(m.buffer)[m.size - 1] = 1; // touch the last page: it must be ours
          addon.memFree(m.handle);
        }
        h.report({ fdsBefore, fdsAfter: h.fds(), mapsBefore, mapsAfter: h.maps(), mapped, wrongAlign });
      `),
    );
    expect(r.mapped).toBeGreaterThan(5 * 1024 * MIB);
    expect(r.wrongAlign).toBe(0);
    expect(r.mapsAfter.bytes - r.mapsBefore.bytes).toBeLessThan(MAPS_MARGIN);
    expect(r.fdsAfter).toEqual(r.fdsBefore);
  });

  it('mappings whose handle and buffer are both dropped are unmapped by the finalizers (2000 × 1 MiB)', () => {
    const r = childResult<Counts & { peakGrowth: number; back: boolean }>(
      runChild(`
        addon.memFree(addon.memAlloc(4096).handle);
        const fdsBefore = h.fds(), mapsBefore = h.maps();
        const margin = ${MAPS_MARGIN};
        let peakGrowth = 0;
        for (let round = 0; round < 4; round++) {
          (() => {
            const keep = [];
            for (let i = 0; i < 500; i++) keep.push(addon.memAlloc(1 << 20, i % 2 === 0));
            peakGrowth = Math.max(peakGrowth, h.maps().bytes - mapsBefore.bytes);
          })();
          await h.gcUntil(() => h.maps().bytes - mapsBefore.bytes < margin);
        }
        const back = await h.gcUntil(() => h.maps().bytes - mapsBefore.bytes < margin);
        h.report({ fdsBefore, fdsAfter: h.fds(), mapsBefore, mapsAfter: h.maps(), peakGrowth, back });
      `),
    );
    expect(r.peakGrowth).toBeGreaterThanOrEqual(500 * MIB);
    expect(r.back).toBe(true);
    expect(r.mapsAfter.bytes - r.mapsBefore.bytes).toBeLessThan(MAPS_MARGIN);
  });

  it('a buffer outliving its dropped handle keeps its pages (and data) until it is dropped too', () => {
    const r = childResult<{ lostWhileHeld: number; corrupt: number; heldGrowth: number; back: boolean }>(
      runChild(`
        const margin = ${MAPS_MARGIN};
        const before = h.maps().bytes;
        let bufs = [];
        const where = [];
        (() => {
          for (let i = 0; i < 400; i++) {
            const m = addon.memAlloc(1 << 20);
            new Uint32Array(m.buffer, 0, 1024).fill(i * 2654435761 >>> 0);
            bufs.push(m.buffer);
            where.push([m.address, m.size]);
          }
        })();
        for (let i = 0; i < 30; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); }
        // Every handle is collectable now; every buffer is still held. Reading them must be safe and intact.
        let lostWhileHeld = 0, corrupt = 0;
        where.forEach(([a, s]) => { if (!h.isMapped(a, s)) lostWhileHeld++; });
        bufs.forEach((b, i) => { if (!new Uint32Array(b, 0, 1024).every((v) => v === (i * 2654435761 >>> 0))) corrupt++; });
        const heldGrowth = h.maps().bytes - before;
        bufs = null;
        const back = await h.gcUntil(() => h.maps().bytes - before < margin);
        h.report({ lostWhileHeld, corrupt, heldGrowth, back });
      `),
    );
    expect(r.lostWhileHeld).toBe(0);
    expect(r.corrupt).toBe(0);
    expect(r.heldGrowth).toBeGreaterThanOrEqual(400 * MIB);
    expect(r.back).toBe(true);
  });

  it('a handle outliving its dropped buffer still frees: free() after the buffer was collected unmaps', () => {
    const r = childResult<{ mappedBeforeFree: number; growthBeforeFree: number; growthAfterFree: number; freed: boolean[] }>(
      runChild(`
        const before = h.maps().bytes;
        const handles = [], where = [];
        (() => {
          for (let i = 0; i < 400; i++) {
            const m = addon.memAlloc(1 << 20, i % 2 === 1);
            handles.push(m.handle);
            where.push([m.address, m.size]);
          }
        })();
        for (let i = 0; i < 30; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); }
        const mappedBeforeFree = where.filter(([a, s]) => h.isMapped(a, s)).length;
        const growthBeforeFree = h.maps().bytes - before;
        for (const hd of handles) { addon.memFree(hd); addon.memFree(hd); }
        const growthAfterFree = h.maps().bytes - before;
        h.report({ mappedBeforeFree, growthBeforeFree, growthAfterFree, freed: [...new Set(handles.map((x) => addon.memIsFreed(x)))] });
      `),
    );
    expect(r.mappedBeforeFree).toBe(400);
    expect(r.growthBeforeFree).toBeGreaterThanOrEqual(400 * MIB);
    expect(r.growthAfterFree).toBeLessThan(MAPS_MARGIN);
    expect(r.freed).toEqual([true]);
  });

  it('allocations the kernel refuses (mmap ENOMEM) leave no mapping behind', () => {
    const r = childResult<Counts & { errors: Record<string, number> }>(
      runChild(`
        addon.memFree(addon.memAlloc(4096).handle);
        const fdsBefore = h.fds(), mapsBefore = h.maps();
        const errors = {};
        for (let i = 0; i < 2000; i++) {
          const e = h.errorOf(() => addon.memAlloc(2 ** 53 - 1 - (i % 7) * 4096, i % 2 === 0));
          const k = e ? e.code + '/' + e.syscall : 'none';
          errors[k] = (errors[k] ?? 0) + 1;
        }
        h.report({ fdsBefore, fdsAfter: h.fds(), mapsBefore, mapsAfter: h.maps(), errors });
      `),
    );
    expect(r.errors).toEqual({ 'ENOMEM/mmap': 2000 });
    expect(r.mapsAfter.count - r.mapsBefore.count).toBeLessThan(64);
    expect(r.mapsAfter.bytes - r.mapsBefore.bytes).toBeLessThan(MAPS_MARGIN);
    expect(r.fdsAfter).toEqual(r.fdsBefore);
  });
});

/** A FIFO (h.fifo) stands in for an SMI event fd. */
const FIFO = `
  const fs = await import('node:fs');
  const fifo = h.fifo().fd;
  const threads = () => fs.readdirSync('/proc/self/task').length;
`;

describe('SMI event sources', () => {
  it('2000 subscribe/read/unsubscribe cycles end with the fds and threads they began with', () => {
    const r = childResult<Counts & { threadsBefore: number; threadsAfter: number; reads: Record<string, number> }>(
      runChild(`
        ${FIFO}
        const reads = {};
        const count = (k) => { reads[k] = (reads[k] ?? 0) + 1; };
        const warm = addon.smiAdopt(fifo); addon.smiClose(warm);
        await h.gcUntil(() => false, 5);
        const fdsBefore = h.fds(), mapsBefore = h.maps(), threadsBefore = threads();
        for (let i = 0; i < 2000; i++) {
          const s = addon.smiAdopt(fifo);
          const p = addon.smiRead(s);
          // A second read while one is pending: EBUSY (handled at once, or node reports an unhandled rejection).
          const again = addon.smiRead(s).then(() => 'second read resolved', (e) => 'second ' + e.code);
          if (i % 2 === 0) fs.writeSync(fifo, 'e ' + i + '\\n'); else addon.smiClose(s);
          const text = await p;
          count(text === '' ? 'closed' : text === 'e ' + i + '\\n' ? 'event' : 'wrong:' + text);
          count(await again);
          addon.smiClose(s);
          count('after close ' + JSON.stringify(await addon.smiRead(s)));
        }
        // A read thread exits just after handing its result over; let the last few finish.
        await h.gcUntil(() => threads() === threadsBefore);
        h.report({ fdsBefore, fdsAfter: h.fds(), mapsBefore, mapsAfter: h.maps(), threadsBefore, threadsAfter: threads(), reads });
      `),
    );
    expect(r.reads).toEqual({ event: 1000, closed: 1000, 'second EBUSY': 2000, 'after close ""': 2000 });
    expect(r.threadsAfter).toBe(r.threadsBefore);
    expect(r.fdsAfter).toEqual(r.fdsBefore);
    expect(r.mapsAfter.bytes - r.mapsBefore.bytes).toBeLessThan(MAPS_MARGIN);
  });

  it('sources only dropped are closed by their finalizers; one with a read pending lives until the read ends', () => {
    const r = childResult<Counts & { peak: number; back: boolean; pendingHeld: boolean; text: string; backAfterRead: boolean }>(
      runChild(`
        ${FIFO}
        const fdsBefore = h.fds(), mapsBefore = h.maps();
        let peak = 0;
        (() => {
          for (let i = 0; i < 500; i++) addon.smiAdopt(fifo); // each: a dup of the FIFO and an eventfd
          peak = h.fds().length - fdsBefore.length;
        })();
        const back = await h.gcUntil(() => h.fds().length === fdsBefore.length);
        // A pending read keeps its source (and fds) alive even when nothing else refers to it...
        const p = (() => addon.smiRead(addon.smiAdopt(fifo)))();
        await h.gcUntil(() => false, 10);
        const pendingHeld = h.fds().length === fdsBefore.length + 2;
        // ...until the read completes, after which the source is garbage like any other.
        fs.writeSync(fifo, 'x\\n');
        const text = await p;
        const backAfterRead = await h.gcUntil(() => h.fds().length === fdsBefore.length);
        h.report({ fdsBefore, fdsAfter: h.fds(), mapsBefore, mapsAfter: h.maps(), peak, back, pendingHeld, text, backAfterRead });
      `),
    );
    expect(r.peak).toBe(1000);
    expect(r.back).toBe(true);
    expect(r.pendingHeld).toBe(true);
    expect(r.text).toBe('x\n');
    expect(r.backAfterRead).toBe(true);
    expect(r.fdsAfter).toEqual(r.fdsBefore);
  });

  it('failures half-way (a read that errors, a mask write refused) leak nothing', () => {
    const r = childResult<Counts & { errors: Record<string, number> }>(
      runChild(`
        const fs = await import('node:fs');
        const dir = fs.openSync('/', 'r');           // read(2) on a directory: EISDIR
        const ro = fs.openSync('/dev/null', 'r');    // write(2) on a read-only fd: EBADF
        const fdsBefore = h.fds(), mapsBefore = h.maps();
        const errors = {};
        const note = (k) => { errors[k] = (errors[k] ?? 0) + 1; };
        for (let i = 0; i < 500; i++) {
          const s = addon.smiAdopt(dir);
          await addon.smiRead(s).then(() => note('resolved'), (e) => note(e.code + '/' + e.syscall));
          addon.smiClose(s);
          const w = addon.smiAdopt(ro);
          const e = h.errorOf(() => addon.smiSetMask(w, 0xffn));
          note(e ? e.code + '/' + e.syscall : 'none');
          if (i % 2) addon.smiClose(w); // the rest are only dropped
        }
        await h.gcUntil(() => h.fds().length === fdsBefore.length);
        h.report({ fdsBefore, fdsAfter: h.fds(), mapsBefore, mapsAfter: h.maps(), errors });
      `),
    );
    expect(r.errors).toEqual({ 'EISDIR/read': 500, 'EBADF/write': 500 });
    expect(r.fdsAfter).toEqual(r.fdsBefore);
  });
});

describe('with a stand-in KFD answering on /dev/null (test/safety/fake-kfd-shim.c): the success paths', () => {
  // Render nodes: one per GPU. Whether the addon keeps their files per device or per process (the kernel
  // keeps the DRM file of an acquired VM for the life of the process), a loop that acquires the same GPUs
  // through the same nodes must not add fds; the warm-up acquires them once before the baseline.
  const RENDER = `const render = { 0x1001: '/dev/null', 0x1002: '/dev/zero', 0x1003: '/dev/full', 0x1004: '/dev/urandom' };
    const acquireAll = (d) => { for (const [g, p] of Object.entries(render)) addon.kfdAcquireVm(d, Number(g), p); };`;

  it('2000 device lifecycles (VMs acquired on 4 GPUs, SMI sources opened, read, refused) end with the fds they began with', () => {
    const r = childResult<Counts & { peak: number[]; tally: Record<string, number>; threadsBefore: number; threadsAfter: number }>(
      runChild(
        `
        const fs = await import('node:fs');
        ${RENDER}
        const threads = () => fs.readdirSync('/proc/self/task').length;
        const tally = {};
        const note = (k) => { tally[k] = (tally[k] ?? 0) + 1; };
        const errOr = (f, ok) => { const e = h.errorOf(f); note(e ? e.code : ok); };
        const warm = addon.kfdOpen('/dev/null'); acquireAll(warm); addon.kfdClose(warm);
        await h.gcUntil(() => false, 3);
        const fdsBefore = h.fds(), mapsBefore = h.maps(), threadsBefore = threads();
        const peak = new Set();
        for (let i = 0; i < 2000; i++) {
          const d = addon.kfdOpen('/dev/null');
          addon.kfdGetVersion(d, new Uint32Array(2));
          note('apertures ' + addon.kfdGetProcessApertures(d).length);
          acquireAll(d);
          addon.kfdAcquireVm(d, 0x1002, render[0x1002]);     // again: a no-op for the kernel
          errOr(() => addon.kfdAcquireVm(d, 7, '/dev/random'), 'acquired unknown'); // opened, refused, closed
          peak.add(h.fds().length - fdsBefore.length);
          addon.kfdSetXnackMode(d, i % 2); addon.kfdSetXnackMode(d, -1);
          addon.kfdAvailableMemory(d, 0x1003);
          addon.kfdSvmSync(d, 1, 0x200000n, 0x200000n, [{ type: 1, value: 0 }]);
          const quiet = addon.kfdSmiOpen(d, 0x1001, 0n);       // never readable: the read waits for close
          const pending = addon.smiRead(quiet);
          const loud = addon.kfdSmiOpen(d, 0x1004, BigInt(i + 1)); // readable at once
          note('loud read ' + (await addon.smiRead(loud)).length);
          errOr(() => addon.kfdSmiOpen(d, 0x1001, 2n ** 64n - 1n), 'mask accepted'); // fd made, mask refused, fd closed
          errOr(() => addon.kfdSmiOpen(d, 9, 1n), 'unknown gpu accepted');
          addon.smiClose(quiet); addon.smiClose(loud);
          note('pending read ' + JSON.stringify(await pending));
          await addon.kfdSvmAsync(d, 0, 0x200000n, 0x200000n, []);
          addon.kfdClose(d);
        }
        await h.gcUntil(() => threads() === threadsBefore);
        h.report({ fdsBefore, fdsAfter: h.fds(), mapsBefore, mapsAfter: h.maps(), peak: [...peak], tally, threadsBefore, threadsAfter: threads() });
      `,
        180_000,
        { preload: fakeKfdShim() },
      ),
    );
    expect(r.tally).toEqual({ 'apertures 4': 2000, EINVAL: 6000, 'loud read 8': 2000, 'pending read ""': 2000 });
    expect(r.peak.length).toBe(1); // the same every iteration: nothing accumulates while a device is open
    expect(r.fdsAfter).toEqual(r.fdsBefore);
    expect(r.threadsAfter).toBe(r.threadsBefore);
  });

  it('devices with acquired VMs and open SMI sources, only dropped, close every fd through their finalizers', () => {
    const r = childResult<Counts & { peak: number; back: boolean }>(
      runChild(
        `
        ${RENDER}
        const warm = addon.kfdOpen('/dev/null'); acquireAll(warm); addon.kfdClose(warm);
        const fdsBefore = h.fds(), mapsBefore = h.maps();
        let peak = 0;
        for (let round = 0; round < 4; round++) {
          (() => {
            const keep = [];
            for (let i = 0; i < 100; i++) {
              const d = addon.kfdOpen('/dev/null');
              acquireAll(d);
              keep.push(d, addon.kfdSmiOpen(d, 0x1001, 1n)); // an event fd and its wake-up eventfd
            }
            peak = Math.max(peak, h.fds().length - fdsBefore.length);
          })();
          await h.gcUntil(() => h.fds().length === fdsBefore.length);
        }
        const back = await h.gcUntil(() => h.fds().length === fdsBefore.length);
        h.report({ fdsBefore, fdsAfter: h.fds(), mapsBefore, mapsAfter: h.maps(), peak, back });
      `,
        120_000,
        { preload: fakeKfdShim() },
      ),
    );
    expect(r.peak).toBeGreaterThanOrEqual(300); // at least the device, the event fd and the wake-up fd each
    expect(r.back).toBe(true);
    expect(r.fdsAfter).toEqual(r.fdsBefore);
  });
});
