/** What the copy paths need to know about a caller's ArrayBufferView, the same way on every backend. */

/**
 * True for a detached ArrayBuffer. Node 20 has no ArrayBuffer.prototype.detached; a view over a detached
 * buffer cannot be constructed, so the attempt tells (only for a zero-length buffer, which a detached one is).
 */
export function isDetached(b: ArrayBufferLike): boolean {
  if (b.byteLength !== 0) return false;
  try {
    new Uint8Array(b, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * The byte length of an ArrayBufferView (a TypedArray, Buffer or DataView), or why it cannot be copied:
 * 'not-a-view', or 'detached' (a DataView's byteLength getter throws once its buffer is detached; a typed
 * array's reads 0).
 */
export function viewByteLength(v: unknown): number | 'not-a-view' | 'detached' {
  if (!ArrayBuffer.isView(v)) return 'not-a-view';
  let n: number;
  try {
    n = v.byteLength;
  } catch {
    return 'detached';
  }
  return n === 0 && isDetached(v.buffer) ? 'detached' : n;
}
