/**
 * Misuse of the native addon: every exported function, every parameter, every kind of wrong value (wrong
 * types, missing arguments, negative, fractional, NaN, infinite, huge and 2^64-overflowing sizes and
 * addresses, detached buffers, handles of the wrong kind, closed handles) and concurrent async calls. The
 * answer must be a TypeError / RangeError, or an Error carrying the errno the system gave (code, errno),
 * each time; never a crash. Everything runs in child processes, so a crash fails a test instead of
 * killing the runner.
 *
 * The functions are enumerated from the loaded addon: an export without a row in SIGNATURES fails the
 * first test, and an addition to the NativeAddon type without one fails the typecheck.
 */
import { describe, expect, it } from 'vitest';
import { loadAddon, type NativeAddon } from '../../src/backend/kfd/index.js';
import { childResult, fakeKfdShim, runChild } from './child.js';

type Kind = 'device' | 'mapping' | 'smi' | 'u32' | 'i32' | 'u64' | 'size' | 'peekLen' | 'nattr' | 'bool?' | 'path' | 'attrs' | 'fd' | 'u32out2' | 'memOffset' | 'view';
type FunctionKeys = { [K in keyof NativeAddon]: NativeAddon[K] extends (...args: never[]) => unknown ? K : never }[keyof NativeAddon];
type DataKeys = Exclude<keyof NativeAddon, FunctionKeys>;

/** Every exported function and the kinds of its parameters (see test/safety/child/misuse.mjs). */
const SIGNATURES: Record<FunctionKeys, Kind[]> = {
  abiSvmRequest: ['nattr'],
  kfdOpen: ['path'],
  kfdClose: ['device'],
  kfdIsOpen: ['device'],
  kfdGetVersion: ['device', 'u32out2'],
  kfdGetProcessApertures: ['device'],
  kfdAcquireVm: ['device', 'u32', 'path'],
  kfdSetXnackMode: ['device', 'i32'],
  kfdAvailableMemory: ['device', 'u32'],
  kfdSvmSync: ['device', 'u32', 'u64', 'u64', 'attrs'],
  kfdSvmAsync: ['device', 'u32', 'u64', 'u64', 'attrs'],
  memAlloc: ['size', 'bool?', 'bool?'],
  memFree: ['mapping'],
  memIsFreed: ['mapping'],
  memRead: ['mapping', 'memOffset', 'view'],
  memWrite: ['mapping', 'memOffset', 'view'],
  memPeek: ['u64', 'peekLen'],
  kfdSmiOpen: ['device', 'u32', 'u64'],
  smiAdopt: ['fd'],
  smiRead: ['smi'],
  smiSetMask: ['smi', 'u64'],
  smiClose: ['smi'],
};
const DATA: Record<DataKeys, true> = { sourceHash: true, buildSystem: true, napiVersion: true, pageSize: true, abi: true };

const MISUSE = `import * as m from ${JSON.stringify(new URL('./child/misuse.mjs', import.meta.url).href)};`;

describe('the addon surface', () => {
  it('every export is a known function (with a misuse row) or a known constant', () => {
    const addon = loadAddon() as unknown as Record<string, unknown>;
    const fns = Object.keys(addon).filter((k) => typeof addon[k] === 'function').sort();
    const data = Object.keys(addon).filter((k) => typeof addon[k] !== 'function').sort();
    expect(fns).toEqual(Object.keys(SIGNATURES).sort());
    expect(data).toEqual(Object.keys(DATA).sort());
  });
});

describe('every function × every parameter × every bad value', () => {
  it('answers TypeError, RangeError or an errno error, exactly as expected, and never crashes', () => {
    const r = childResult<{ calls: number; mismatches: string[] }>(
      runChild(`
        ${MISUSE}
        const r = await m.runMatrix(${JSON.stringify(SIGNATURES)});
        m.cleanup();
        h.report(r);
      `),
    );
    expect(r.mismatches).toEqual([]);
    expect(r.calls).toBeGreaterThan(1000);
  });

  it('the same matrix with a stand-in KFD answering (success paths marshal their results), never a crash', () => {
    const r = childResult<{ calls: number; mismatches: string[] }>(
      runChild(
        `
        ${MISUSE}
        const r = await m.runMatrix(${JSON.stringify(SIGNATURES)});
        m.cleanup();
        h.report(r);
      `,
        120_000,
        { preload: fakeKfdShim() },
      ),
    );
    expect(r.mismatches).toEqual([]);
    expect(r.calls).toBeGreaterThan(1000);
  });

  it('closed devices are EBADF, freed mappings and closed sources are idempotent or EBADF', () => {
    const r = childResult<Record<string, string>>(
      runChild(`
        ${MISUSE}
        const r = await m.closedHandles(${JSON.stringify(SIGNATURES)});
        m.cleanup();
        h.report(r);
      `),
    );
    const closed = Object.fromEntries(
      Object.entries(SIGNATURES)
        .filter(([, kinds]) => kinds.some((k) => k === 'device' || k === 'mapping' || k === 'smi'))
        .map(([fn]) => [fn, 'errno:EBADF']),
    );
    Object.assign(closed, {
      kfdClose: 'ok', // idempotent
      kfdIsOpen: 'ok', // answers false
      memFree: 'ok', // idempotent
      memIsFreed: 'ok', // answers true
      memRead: 'errno:EFAULT', // the pages are gone: what a copy from unmapped memory answers
      memWrite: 'errno:EFAULT',
      smiRead: 'ok', // resolves '' (end of stream)
      smiClose: 'ok', // idempotent
    });
    expect(r).toEqual(closed);
  });
});

describe('out-parameters', () => {
  it('kfdGetVersion writes [major, minor] at the view (its byte offset honoured) and nothing around it', () => {
    const r = childResult<Record<string, number[]>>(
      runChild(
        `
        const d = addon.kfdOpen('/dev/null');
        const whole = new Uint32Array(6).fill(0xdeadbeef);
        const view = new Uint32Array(whole.buffer, 8, 2);
        addon.kfdGetVersion(d, view);
        const longer = new Uint32Array(3).fill(7);
        addon.kfdGetVersion(d, longer);
        addon.kfdClose(d);
        h.report({ whole: [...whole], longer: [...longer] });
      `,
        30_000,
        { preload: fakeKfdShim() },
      ),
    );
    // The stand-in KFD answers 1.17 (test/safety/fake-kfd-shim.c, as kfd_ioctl_get_version fills it).
    expect(r.whole).toEqual([0xdeadbeef, 0xdeadbeef, 1, 17, 0xdeadbeef, 0xdeadbeef]);
    expect(r.longer).toEqual([1, 17, 7]);
  });
});

describe('buffers', () => {
  it('a freed mapping leaves only detached views; the memory is gone, not reachable through them', () => {
    const r = childResult<Record<string, unknown>>(
      runChild(`
        const mp = addon.memAlloc(8192);
        const u8 = new Uint8Array(mp.buffer);
        const dv = new DataView(mp.buffer, 4096);
        const fingerprint = h.mark(u8);
        addon.memFree(mp.handle);
        u8[0] = 1; // an indexed store to a detached view is a no-op, not a store into unmapped memory
        const fill = h.errorOf(() => u8.fill(9))?.name;
        // The freed pages must be unreadable (EFAULT). Another thread may mmap the hole before memPeek looks:
        // then the bytes are not ours, and the check is repeated on a fresh mapping (test/native/unmapped.mjs).
        const peek = await h.untilUnmapped((i) => {
          if (i === 0) return h.unmappedState(addon.memPeek, mp.address, mp.size, fingerprint);
          const again = addon.memAlloc(8192);
          const mark = h.mark(new Uint8Array(again.buffer));
          addon.memFree(again.handle);
          return h.unmappedState(addon.memPeek, again.address, again.size, mark);
        });
        h.report({
          byteLength: mp.buffer.byteLength, u8Length: u8.length, u8First: u8[0] ?? null,
          dataView: h.errorOf(() => dv.getUint8(0))?.name,
          newView: h.errorOf(() => new Uint8Array(mp.buffer, 0, 1))?.name,
          slice: h.errorOf(() => mp.buffer.slice(0))?.name,
          clone: h.errorOf(() => structuredClone(mp.buffer))?.name ?? 'cloned',
          peek: peek.at(-1), freed: addon.memIsFreed(mp.handle), fill,
        });
      `),
    );
    expect(r).toEqual({
      byteLength: 0,
      u8Length: 0,
      u8First: null,
      dataView: 'TypeError',
      newView: 'TypeError',
      slice: 'TypeError',
      clone: 'DataCloneError',
      peek: 'unmapped',
      freed: true,
      fill: 'TypeError',
    });
  });

  it('a mapping larger than the largest ArrayBuffer: memAlloc throws without crashing or keeping it; wantBuffer false maps it for copies', () => {
    // Node 20's node::Buffer::New refuses more than kMaxLength (4 GiB) after it has run the finalizer itself:
    // the addon used to drop the finalizer's hint a second time and crash with SIGSEGV.
    const r = childResult<Record<string, unknown>>(
      runChild(`
        const big = 2 ** 32 + 4096;
        const before = h.maps();
        const refused = h.errorOf(() => addon.memAlloc(big));
        const afterRefused = h.maps();
        const mp = addon.memAlloc(big, false, false);
        const src = new Uint8Array([1, 2, 3]);
        addon.memWrite(mp.handle, 2 ** 32 + 100, src);
        const back = new Uint8Array(3);
        addon.memRead(mp.handle, 2 ** 32 + 100, back);
        const mapped = h.isMapped(mp.address, mp.size);
        addon.memFree(mp.handle);
        h.report({
          refused: refused?.type, kept: afterRefused.bytes - before.bytes >= big,
          buffer: mp.buffer, size: mp.size, back: [...back], mapped, unmapped: !h.isMapped(mp.address, mp.size),
        });
      `),
    );
    expect(r).toEqual({ refused: 'Error', kept: false, buffer: null, size: 2 ** 32 + 4096, back: [1, 2, 3], mapped: true, unmapped: true });
  });

  it('the mapped buffer cannot be transferred away: structuredClone and postMessage copy it, so free() cannot leave a live view', () => {
    const r = childResult<Record<string, unknown>>(
      runChild(`
        const { MessageChannel } = await import('node:worker_threads');
        const mp = addon.memAlloc(4096);
        new Uint8Array(mp.buffer).fill(5);
        const copy = structuredClone(mp.buffer, { transfer: [mp.buffer] });
        const mc = new MessageChannel();
        const got = new Promise((res) => mc.port2.once('message', res));
        mc.port1.postMessage(mp.buffer, [mp.buffer]);
        const posted = await got;
        mc.port1.close();
        const stillAttached = mp.buffer.byteLength;
        addon.memFree(mp.handle);
        new Uint8Array(copy).fill(1); new Uint8Array(posted).fill(1); // their own memory: safe after free
        h.report({ stillAttached, copy: new Uint8Array(copy)[0], posted: new Uint8Array(posted)[4095], after: mp.buffer.byteLength });
      `),
    );
    // Node marks external ArrayBuffers untransferable: a transfer list entry is copied, not moved. If that
    // ever changes, free() would unmap memory a transferred buffer still points at.
    expect(r).toEqual({ stillAttached: 4096, copy: 1, posted: 1, after: 0 });
  });

  it('handles cannot leave their thread: posting one to a worker is a DataCloneError', () => {
    const r = childResult<Record<string, string | undefined>>(
      runChild(`
        const { MessageChannel } = await import('node:worker_threads');
        const mc = new MessageChannel();
        const d = addon.kfdOpen('/dev/null'), mp = addon.memAlloc(4096), s = addon.smiAdopt(0);
        const post = (v) => h.errorOf(() => mc.port1.postMessage(v))?.name;
        const out = { device: post(d), mapping: post(mp.handle), smi: post(s) };
        mc.port1.close(); addon.kfdClose(d); addon.memFree(mp.handle); addon.smiClose(s);
        h.report(out);
      `),
    );
    expect(r).toEqual({ device: 'DataCloneError', mapping: 'DataCloneError', smi: 'DataCloneError' });
  });
});

describe('smiAdopt and the caller\'s fd', () => {
  it('an fd that cannot be opened again (a socket: the child\'s stdin) is dup\'ed with its flags left alone', () => {
    // fd 0 of the child is one end of the socketpair libuv gives spawnSync's stdin: /proc/self/fd/0 does
    // not open (ENXIO), as for KFD's anonymous SMI fd, so smiAdopt shares the caller's file description
    // and must not make it non-blocking.
    const r = childResult<Record<string, unknown>>(
      runChild(`
        const fs = await import('node:fs');
        const flags = (fd) => parseInt(/flags:\\s*([0-7]+)/.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8);
        const before = flags(0);
        const s = addon.smiAdopt(0);
        const during = flags(0);
        addon.smiClose(s);
        h.report({ kind: fs.readlinkSync('/proc/self/fd/0').split(':')[0], nonBlocking: (before & 0o4000) !== 0, during: during === before, after: flags(0) === before });
      `),
    );
    expect(r).toEqual({ kind: 'socket', nonBlocking: false, during: true, after: true });
  });
});

describe('concurrency', () => {
  it('many SVM calls in flight while the device closes, frees and reopens: each settles with an errno', () => {
    const r = childResult<Record<string, number>>(
      runChild(`
        const tally = {};
        const note = (k) => { tally[k] = (tally[k] ?? 0) + 1; };
        const all = [];
        for (let round = 0; round < 10; round++) {
          const d = addon.kfdOpen('/dev/null');
          const mp = addon.memAlloc(1 << 16);
          for (let i = 0; i <= 20; i++) {
            const p = addon.kfdSvmAsync(d, i % 2, mp.address, BigInt(mp.size), [{ type: 1, value: 0 }]);
            all.push(p.then(() => 'ok', (e) => e.code));
            if (i === 10) addon.memFree(mp.handle); // the range goes away under the queued calls
            if (i === 20) {
              addon.kfdClose(d); // calls already queued keep the fd until they finish
              for (let k = 0; k < 19; k++) { const e = h.errorOf(() => addon.kfdSvmAsync(d, 0, 0n, 0n, [])); note('closed ' + (e ? e.code : 'accepted')); }
              break;
            }
          }
        }
        for (const k of await Promise.all(all)) note(k);
        h.report(tally);
      `),
    );
    // Calls queued before close() still run on the fd (the worker holds it) and get /dev/null's answer.
    expect(r).toEqual({ ENOTTY: 210, 'closed EBADF': 190 });
  });

  it('concurrent reads on one source: one waits, the others are EBUSY; close wakes it with end of stream', () => {
    const r = childResult<Record<string, number>>(
      runChild(`
        const fifo = h.fifo().fd;
        const tally = {};
        for (let round = 0; round < 50; round++) {
          const sources = Array.from({ length: 8 }, () => addon.smiAdopt(fifo));
          const reads = [];
          for (const s of sources) for (let k = 0; k < 4; k++) reads.push(addon.smiRead(s).then((t) => t === '' ? 'eos' : 'data', (e) => e.code));
          for (const s of sources.reverse()) { addon.smiClose(s); addon.smiClose(s); }
          for (const k of await Promise.all(reads)) tally[k] = (tally[k] ?? 0) + 1;
        }
        h.report(tally);
      `),
    );
    expect(r).toEqual({ eos: 400, EBUSY: 1200 });
  });

  it('workers load the addon side by side and are terminated with reads, SVM calls and mappings pending', () => {
    const r = childResult<{ exits: number[]; ready: number; mainStillWorks: string }>(
      runChild(`
        const { Worker } = await import('node:worker_threads');
        const fifo = h.fifo().path;
        // CommonJS worker: the addon is a per-environment Node-API module, each worker gets its own instance.
        const code = \`
          const { parentPort, workerData } = require('node:worker_threads');
          const fs = require('node:fs');
          const addon = require(workerData.path);
          for (let i = 0; i < 200; i++) addon.memFree(addon.memAlloc(4096 * (1 + i % 8), i % 2 === 0).handle);
          const d = addon.kfdOpen('/dev/null');
          const fifo = fs.openSync(workerData.fifo, fs.constants.O_RDWR);
          const pending = [];
          for (let i = 0; i < 4; i++) pending.push(addon.smiRead(addon.smiAdopt(fifo)).catch(() => 0)); // never readable
          for (let i = 0; i < 20; i++) pending.push(addon.kfdSvmAsync(d, 0, 4096n, 4096n, [{ type: 1, value: 0 }]).catch(() => 0));
          globalThis.keep = [addon.memAlloc(1 << 20), addon.memAlloc(1 << 21, true), addon.smiAdopt(fifo), pending];
          parentPort.postMessage('ready');
        \`;
        const exits = [];
        let ready = 0;
        for (let round = 0; round < 6; round++) {
          const ws = Array.from({ length: 3 }, () =>
            new Worker(code, { eval: true, execArgv: [], workerData: { path: process.env.KFD_SVM_NATIVE_PATH, fifo } }));
          await Promise.all(ws.map((w) => new Promise((res, rej) => { w.once('message', () => { ready++; res(); }); w.once('error', rej); })));
          for (const w of ws) exits.push(await w.terminate());
        }
        // The main thread's instance is untouched by the workers' teardown.
        const mp = addon.memAlloc(4096); new Uint8Array(mp.buffer)[0] = 1; addon.memFree(mp.handle);
        h.report({ exits, ready, mainStillWorks: h.errorOf(() => addon.kfdGetVersion(addon.kfdOpen('/dev/null'), new Uint32Array(2)))?.code });
      `, 120_000, { leakCheck: false }),
    );
    expect(r.ready).toBe(18);
    expect(r.exits).toEqual(Array(18).fill(1)); // terminate() resolves with exit code 1
    expect(r.mainStillWorks).toBe('ENOTTY');
  });

  it('workers acquiring GPU VMs at the same moment, each through its own device (stand-in KFD), do not crash', () => {
    // Anything the addon keeps per process rather than per device (or per environment) is shared by
    // every worker thread; calls from several workers at once must not corrupt it. Distinct spellings of
    // one node keep every call on the path that records a new file.
    const r = childResult<{ done: number[]; errors: string[] }>(
      runChild(
        `
        const { Worker } = await import('node:worker_threads');
        const code = \`
          const { parentPort, workerData } = require('node:worker_threads');
          const addon = require(workerData.path);
          const d = addon.kfdOpen('/dev/null');
          const go = new Int32Array(workerData.go);
          Atomics.wait(go, 0, 0); // start together
          let n = 0; const errors = new Set();
          for (let i = 0; i < 600; i++) {
            const path = '/' + '/'.repeat(workerData.w * 600 + i) + 'dev/null';
            try { addon.kfdAcquireVm(d, 0x1001 + (i % 4), path); n++; } catch (e) { errors.add(e.code ?? String(e)); }
          }
          addon.kfdClose(d);
          parentPort.postMessage({ n, errors: [...errors] });
        \`;
        const go = new SharedArrayBuffer(4);
        const ws = Array.from({ length: 4 }, (_, w) =>
          new Worker(code, { eval: true, execArgv: [], workerData: { path: process.env.KFD_SVM_NATIVE_PATH, w, go } }));
        const results = ws.map((wk) => new Promise((res, rej) => { wk.once('message', res); wk.once('error', rej); }));
        await new Promise((r) => setTimeout(r, 200)); // let every worker reach Atomics.wait (no assertion depends on it)
        Atomics.store(new Int32Array(go), 0, 1); Atomics.notify(new Int32Array(go), 0);
        const out = await Promise.all(results);
        h.report({ done: out.map((o) => o.n), errors: [...new Set(out.flatMap((o) => o.errors))] });
      `,
        120_000,
        { preload: fakeKfdShim() },
      ),
    );
    expect(r.errors).toEqual([]);
    expect(r.done).toEqual([600, 600, 600, 600]);
  });

  it('the process exits promptly and cleanly with reads pending, after the sources are closed', () => {
    const run = runChild(`
      const fifo = h.fifo().fd;
      const sources = Array.from({ length: 16 }, () => addon.smiAdopt(fifo));
      for (const s of sources) addon.smiRead(s).catch(() => 0);
      h.report('started');
      setImmediate(() => { for (const s of sources) addon.smiClose(s); }); // then nothing keeps the loop alive
    `, 30_000);
    expect(childResult(run)).toBe('started');
  });

  it('process.exit() with reads, SVM calls and live mappings pending exits 0 without a crash', () => {
    const run = runChild(`
      const fifo = h.fifo().fd;
      for (let i = 0; i < 16; i++) addon.smiRead(addon.smiAdopt(fifo)).catch(() => 0);
      const d = addon.kfdOpen('/dev/null');
      for (let i = 0; i < 50; i++) addon.kfdSvmAsync(d, 0, 4096n, 4096n, []).catch(() => 0);
      globalThis.keep = Array.from({ length: 50 }, (_, i) => addon.memAlloc(65536, i % 2 === 0));
      h.report('exiting');
      process.exit(0);
    `, 30_000, { leakCheck: false });
    expect(childResult(run)).toBe('exiting');
  });
});
