/** Shared by the native tests: the loaded addon, the process's fd count, and a forced GC. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadAddon, type NativeAddon } from '../../src/backend/kfd/index.js';

export const addon: NativeAddon = loadAddon();

/**
 * Open fds of this process, regular files left out: the test runner's own asynchronous I/O opens and
 * closes those on libuv's threads at moments no test controls. The addon never opens a regular file (it
 * opens device nodes, which the tests stand in for with /dev/null, eventfds and adopted FIFOs), so a leak
 * of its fds still shows.
 */
export function fdCount(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (statSync(`/proc/self/fd/${fd}`).isFile()) continue;
    } catch {
      continue; // closed since the readdir (its own directory fd, or another thread's)
    }
    n++;
  }
  return n;
}

setFlagsFromString('--expose-gc');
const gcFn = runInNewContext('gc') as () => void;

/**
 * Collects garbage until `done()` holds, letting finalizers (which Node runs from a SetImmediate after the
 * collection) run between rounds. Bounded by rounds, not time.
 */
export async function gcUntil(done: () => boolean, rounds = 50): Promise<boolean> {
  for (let i = 0; i < rounds; i++) {
    gcFn();
    await new Promise((r) => setImmediate(r));
    if (done()) return true;
  }
  return done();
}

/** Whether /proc/self/maps has a mapping that covers exactly [start, start + size). */
export function isMapped(start: bigint, size: number): boolean {
  const end = start + BigInt(size);
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const [range] = line.split(' ');
    const [a, b] = (range ?? '').split('-');
    if (a === undefined || b === undefined) continue;
    const lo = BigInt(`0x${a}`);
    const hi = BigInt(`0x${b}`);
    if (lo <= start && end <= hi) return true;
  }
  return false;
}
