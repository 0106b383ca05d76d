/**
 * Deterministic test data: a xorshift32 stream per buffer, so a mismatch after a migration round trip
 * shows the exact byte and both values, and no two buffers (or GPUs) share a pattern by accident.
 */

function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Fills `bytes` with the pattern of `seed` (whole 32-bit words; a tail shorter than 4 bytes too). */
export function fillPattern(bytes: Uint8Array, seed: number): void {
  const next = xorshift32(seed);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = next();
  for (let i = words.length * 4; i < bytes.length; i++) bytes[i] = next() & 0xff;
}

export interface Mismatch {
  offset: number;
  expected: number;
  actual: number;
  /** How many bytes differ in all. */
  count: number;
}

/** Compares `bytes` with the pattern of `seed`; undefined when every byte matches. */
export function checkPattern(bytes: Uint8Array, seed: number): Mismatch | undefined {
  const next = xorshift32(seed);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  let first: Mismatch | undefined;
  let count = 0;
  const note = (offset: number, expected: number, actual: number): void => {
    count++;
    first ??= { offset, expected, actual, count: 0 };
  };
  for (let i = 0; i < words.length; i++) {
    const want = next();
    const got = words[i]!;
    if (want === got) continue;
    // Little-endian words: find the bytes that differ.
    for (let b = 0; b < 4; b++) {
      const e = (want >>> (8 * b)) & 0xff;
      const a = (got >>> (8 * b)) & 0xff;
      if (e !== a) note(i * 4 + b, e, a);
    }
  }
  for (let i = words.length * 4; i < bytes.length; i++) {
    const e = next() & 0xff;
    if (bytes[i] !== e) note(i, e, bytes[i]!);
  }
  if (first) (first as Mismatch).count = count;
  return first;
}
