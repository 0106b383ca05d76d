// Loaded by the child node processes the safety tests spawn (test/safety/child.ts): the addon, and the
// process's resources as the kernel sees them. Plain JS so the child needs no TypeScript loader.
import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** mark / unmappedState / untilUnmapped: is memory we unmapped gone (race-free against reuse)? */
export { mark, unmappedState, untilUnmapped } from '../../native/unmapped.mjs';

const require = createRequire(import.meta.url);
const path = process.env.KFD_SVM_NATIVE_PATH;
if (!path) throw new Error('harness: KFD_SVM_NATIVE_PATH must name the addon binary (test/safety/child.ts sets it)');
/** The raw addon, the same binary the parent test process loaded. */
export const addon = require(resolve(path));

/** The open fds, as 'N -> target' strings (the readdir's own fd excluded). */
export function fds() {
  const out = [];
  for (const n of readdirSync('/proc/self/fd')) {
    let target;
    try {
      target = readlinkSync(`/proc/self/fd/${n}`);
    } catch {
      continue; // the directory fd readdir used, already closed
    }
    out.push(`${n} -> ${target}`);
  }
  return out.sort();
}

/**
 * The accessible mappings of /proc/self/maps: how many, and their total size in bytes. PROT_NONE regions
 * ('---p') are left out: they are address space reserved, not memory mapped (glibc reserves 64 MiB per
 * malloc arena as threads appear, V8 reserves its cage, thread stacks have guard pages), and they come
 * and go with node's own threads. Every mapping memAlloc makes is read-write.
 */
export function maps() {
  let count = 0;
  let bytes = 0n;
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(line);
    if (!m || m[3].startsWith('---')) continue;
    count++;
    bytes += BigInt(`0x${m[2]}`) - BigInt(`0x${m[1]}`);
  }
  return { count, bytes: Number(bytes) };
}

/** Whether some mapping covers [start, start + size) whole. */
export function isMapped(start, size) {
  const end = start + BigInt(size);
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (m && BigInt(`0x${m[1]}`) <= start && end <= BigInt(`0x${m[2]}`)) return true;
  }
  return false;
}

if (typeof globalThis.gc !== 'function') throw new Error('harness: run the child with --expose-gc');

/**
 * Collects until done() holds. Finalizers of Node-API objects run from a setImmediate after the collection
 * that found them, so each round yields to the loop. Bounded by rounds, not by time.
 */
export async function gcUntil(done, rounds = 60) {
  for (let i = 0; i < rounds; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
    if (done()) return true;
  }
  return done();
}

/**
 * A FIFO opened read-write, which stands in for an SMI event fd: on Linux such an open never blocks and
 * the fd never sees a hang-up, so a read on it waits until data comes or the source is closed. Its
 * directory is removed when the process exits.
 */
export function fifo() {
  const dir = mkdtempSync(join(tmpdir(), 'kfd-svm-fifo-'));
  const path = join(dir, 'f');
  execFileSync('mkfifo', [path]);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return { fd: openSync(path, constants.O_RDWR), path };
}

/** A caught error as plain data. */
export function errorOf(f) {
  try {
    f();
  } catch (e) {
    return { name: e?.name, type: e?.constructor?.name, code: e?.code, errno: e?.errno, syscall: e?.syscall, message: String(e?.message) };
  }
  return undefined;
}

/** Hands the child's answer to the parent (the last line of stdout). */
export function report(value) {
  process.stdout.write(`\n@@RESULT@@${JSON.stringify(value)}\n`);
}
