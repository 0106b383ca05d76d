// Checks that memory we unmapped is gone, without racing the other threads of the process. Plain JS so
// the safety tests' child processes (test/safety/child/harness.mjs) share it with test/native.
//
// After munmap the address range is a hole that any thread of the process (V8's helpers, libuv, vitest's
// workers) may mmap again before we look, so "the address is readable" alone does not mean our mapping
// survived. What only our mapping can hold is its content: mark() fills it with random bytes first, and a
// readable address whose bytes are not those is someone else's new mapping. A check that saw such a reuse
// is simply repeated on a fresh mapping (untilUnmapped): a bug that leaves the pages mapped shows every
// time, a reuse only by chance.
import { createHash, randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

const digest = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Fills the view with random bytes and returns their digest (the mapping's fingerprint). */
export function mark(view) {
  randomFillSync(view);
  return digest(view);
}

function mappedAt(address) {
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (m && BigInt(`0x${m[1]}`) <= address && address < BigInt(`0x${m[2]}`)) return true;
  }
  return false;
}

/**
 * What [address, address + size) holds now that it should be unmapped: 'unmapped' (process_vm_readv is
 * EFAULT), 'ours' (the marked bytes are still there: not unmapped), 'reused' (readable, other bytes, and
 * /proc/self/maps read right after shows a mapping there: another thread mapped the hole), or
 * 'inconsistent' (readable, yet no mapping there). `fingerprint` is what mark() returned, or undefined
 * for memory that was never ours to mark (then any readable answer is 'reused').
 */
export function unmappedState(peek, address, size, fingerprint) {
  let bytes;
  try {
    bytes = peek(address, size);
  } catch (e) {
    if (e?.code === 'EFAULT') return 'unmapped';
    throw e;
  }
  if (fingerprint !== undefined && digest(bytes) === fingerprint) return 'ours';
  return mappedAt(address) ? 'reused' : 'inconsistent';
}

/**
 * Runs attempt(i) (which unmaps a fresh mapping and returns its unmappedState) until it is not 'reused',
 * at most `tries` times, and returns every state seen. Callers expect the last one to be 'unmapped'.
 */
export async function untilUnmapped(attempt, tries = 20) {
  const seen = [];
  for (let i = 0; i < tries; i++) {
    const state = await attempt(i);
    seen.push(state);
    if (state !== 'reused') break;
  }
  return seen;
}
