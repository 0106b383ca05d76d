/**
 * SMI event sources. Without a KFD the reader is driven through a FIFO adopted as the event fd: the same
 * thread, poll() on the fd plus the wake-up eventfd, and read() as on the kernel's anonymous fd.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KfdSmiEventSource } from '../../src/backend/kfd/smi.js';
import { addon, fdCount } from './helpers.js';

let dir: string;
let fifo: string;
let fd: number; // our end of the FIFO (O_RDWR: it never sees a hang-up)

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kfd-smi-'));
  fifo = join(dir, 'events');
  execFileSync('mkfifo', [fifo]);
  fd = openSync(fifo, 'r+');
});
afterAll(() => {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

/** A regular file (the test runner's I/O), or an fd closed since the readdir: neither is the addon's. */
function notTheAddons(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return true;
  }
}

const source = () => new KfdSmiEventSource(addon, addon.smiAdopt(fd));

describe('SMI event source', () => {
  it('read() resolves with the lines written to the fd', async () => {
    const s = source();
    const p = s.read();
    writeSync(fd, '5 123 -1 @7f00(200) 0->1 0:1 0\n6 124 -1 @7f00(200) 0->1 0\n');
    expect(await p).toBe('5 123 -1 @7f00(200) 0->1 0:1 0\n6 124 -1 @7f00(200) 0->1 0\n');
    s.close();
  });

  it('data already waiting is returned at once', async () => {
    const s = source();
    writeSync(fd, 'b 1 -2 @1000(1) 1 2\n');
    expect(await s.read()).toBe('b 1 -2 @1000(1) 1 2\n');
    s.close();
  });

  it('a second concurrent read rejects with EBUSY; the first still completes', async () => {
    const s = source();
    const first = s.read();
    await expect(s.read()).rejects.toMatchObject({ name: 'KernelError', code: 'EBUSY' });
    writeSync(fd, '9 1 -2 1 0\n');
    expect(await first).toBe('9 1 -2 1 0\n');
    s.close();
  });

  it('close() wakes a pending read, which resolves with end of stream', async () => {
    const s = source();
    const p = s.read();
    await new Promise((r) => setImmediate(r)); // the reader thread is now (or soon) in poll()
    s.close();
    expect(await p).toBe('');
    expect(await s.read()).toBe('');
    s.close(); // idempotent
  });

  it('setMask writes the mask as one native-endian u64; after close it is EBADF', () => {
    const s = source();
    s.setMask((1n << 63n) | 0x30n);
    const buf = Buffer.alloc(8);
    expect(readSync(fd, buf, 0, 8, null)).toBe(8);
    expect(buf.readBigUInt64LE(0)).toBe((1n << 63n) | 0x30n);
    s.close();
    expect(() => s.setMask(1n)).toThrow(expect.objectContaining({ name: 'KernelError', code: 'EBADF' }));
    expect(() => s.setMask(-1n)).toThrow(RangeError);
  });

  it('open/read/close loops leave the fd count where it was', async () => {
    const before = fdCount();
    for (let i = 0; i < 25; i++) {
      const s = source();
      const p = s.read();
      if (i % 2) writeSync(fd, `1 ${i}:x\n`);
      else s.close();
      await p;
      s.close();
    }
    expect(fdCount()).toBe(before);
  });

  it('the fds it holds (the event fd and the wake-up eventfd) are close-on-exec', () => {
    // Regular files are left out: the test runner's asynchronous I/O opens those at moments of its own.
    const live = () =>
      readdirSync('/proc/self/fd').filter((f) => existsSync(`/proc/self/fdinfo/${f}`) && !notTheAddons(`/proc/self/fd/${f}`));
    const before = new Set(live());
    const h = addon.smiAdopt(fd);
    try {
      // (readdir's own directory fd shows in its listing and is gone again: live() keeps fds that still exist.)
      const added = live().filter((f) => !before.has(f));
      expect(added.length).toBe(2);
      for (const f of added) {
        const flags = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${f}`, 'utf8'))?.[1];
        expect(flags).toBeDefined();
        expect(parseInt(flags ?? '0', 8) & 0o2000000).toBe(0o2000000); // O_CLOEXEC
      }
    } finally {
      addon.smiClose(h);
    }
    expect(live().length).toBe(before.size);
  });

  it("adopting an fd leaves the caller's fd as it was (no O_NONBLOCK on the caller's file description)", async () => {
    const flagsOf = (f: number) => parseInt(/flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${f}`, 'utf8'))?.[1] ?? 'x', 8);
    const O_NONBLOCK = 0o4000;
    const mine = openSync(fifo, 'r+'); // blocking, like a process's stdin
    try {
      const before = flagsOf(mine);
      expect(before & O_NONBLOCK).toBe(0);
      const s = new KfdSmiEventSource(addon, addon.smiAdopt(mine));
      // The adopted source still reads what is written, without blocking the caller's fd.
      const p = s.read();
      writeSync(mine, '3 1 -1 0 0\n');
      expect(await p).toBe('3 1 -1 0 0\n');
      expect(flagsOf(mine)).toBe(before);
      s.close();
      expect(flagsOf(mine)).toBe(before);
    } finally {
      closeSync(mine);
    }
  });
});
