/**
 * Where the attributes of the ranges in the svm_range list live: one 64-byte row per range in typed arrays
 * (a "slot"), plus a hash index from a range's first page to its slot. At 10^5 ranges a call's cost is its
 * cache misses; a set or get of an existing range reads one hash bucket and one row, where an object per
 * range cost a B+ tree leaf (object, keys, values), the range object and its boxed page numbers.
 *
 * The ordered queries (overlaps, splits, neighbours) stay in the B+ tree of ranges.ts; this index only
 * answers "which range starts exactly here", which is what svm_range_add's exact-range case and a query of
 * one whole range need.
 */
import { treeWork } from './interval-map.js';

/** Row layout in 32-bit words (16 per row, 64 bytes); the first four hold the page numbers as doubles. */
const WORDS = 16;
/** Doubles per row. */
const DWORDS = WORDS / 2;
export const F_START = 0;
export const F_LAST = 1;
/** Unsigned 32-bit fields (u32 values from the ioctl). */
export const U_PREF = 4;
export const U_PREFETCH = 5;
export const U_FLAGS = 6;
/** Signed 32-bit fields (bitmaps over gpuidx, small numbers, booleans). */
export const I_GRAN = 7;
export const I_ACCESS = 8;
export const I_AIP = 9;
export const I_MAPPED = 10;

/** An empty hash bucket's key (page numbers are never negative). */
const EMPTY = -1;

export class RangeStore<T> {
  /** The rows, as doubles (page numbers), unsigned and signed words: three views of one buffer. */
  f64: Float64Array;
  u32: Uint32Array;
  i32: Int32Array;
  /** The object of each occupied slot. */
  readonly objs: Array<T | undefined> = [];
  private readonly free: number[] = [];
  private slots = 0;
  /** Open addressing, linear probing: [key, slot] pairs; key EMPTY when the bucket is free. */
  private table: Float64Array;
  private mask: number;
  private shift: number;
  private used = 0;

  constructor(initialSlots = 64) {
    const buf = new ArrayBuffer(initialSlots * WORDS * 4);
    this.f64 = new Float64Array(buf);
    this.u32 = new Uint32Array(buf);
    this.i32 = new Int32Array(buf);
    this.table = new Float64Array(0);
    this.mask = 0;
    this.shift = 0;
    this.rehash(64);
  }

  get size(): number {
    return this.used;
  }

  /** A free slot for `obj` starting at page `start` (its row is left for the caller to fill). */
  alloc(obj: T, start: number, last: number): number {
    const reused = this.free.length > 0;
    const slot = reused ? this.free[this.free.length - 1]! : this.slots;
    this.insertKey(start, slot); // throws before anything changes if a range already starts there
    if (reused) this.free.pop();
    else if (++this.slots * WORDS > this.i32.length) this.grow();
    this.objs[slot] = obj;
    this.f64[slot * DWORDS + F_START] = start;
    this.f64[slot * DWORDS + F_LAST] = last;
    return slot;
  }

  /** Frees a slot (its range left the list). */
  release(slot: number): void {
    this.deleteKey(this.f64[slot * DWORDS + F_START]!);
    this.objs[slot] = undefined;
    this.free.push(slot);
  }

  start(slot: number): number {
    return this.f64[slot * DWORDS + F_START]!;
  }

  last(slot: number): number {
    return this.f64[slot * DWORDS + F_LAST]!;
  }

  /** The slot of the range whose first page is `start`, or -1. */
  find(start: number): number {
    const t = this.table;
    let i = this.home(start);
    for (;;) {
      treeWork.nodes++;
      const k = t[2 * i]!;
      if (k === start) return t[2 * i + 1]!;
      if (k === EMPTY) return -1;
      i = (i + 1) & this.mask;
    }
  }

  /** The slot of the range that is exactly [start, last], or -1. */
  exact(start: number, last: number): number {
    const slot = this.find(start);
    return slot >= 0 && this.f64[slot * DWORDS + F_LAST] === last ? slot : -1;
  }

  /** Bucket of a page number: Fibonacci hashing of its low 32 bits mixed with the high ones. */
  private home(key: number): number {
    const lo = key >>> 0;
    const hi = (key / 4294967296) >>> 0;
    return (Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift) & this.mask;
  }

  private insertKey(key: number, slot: number): void {
    if (2 * (this.used + 1) > this.mask + 1) this.rehash(2 * (this.mask + 1));
    const t = this.table;
    let i = this.home(key);
    while (t[2 * i] !== EMPTY) {
      if (t[2 * i] === key) throw new Error(`internal: two ranges start at page ${key}`);
      i = (i + 1) & this.mask;
    }
    t[2 * i] = key;
    t[2 * i + 1] = slot;
    this.used++;
  }

  /** Removes a key; later buckets of its probe run move back (no tombstones). */
  private deleteKey(key: number): void {
    const t = this.table;
    const mask = this.mask;
    let i = this.home(key);
    while (t[2 * i] !== key) {
      if (t[2 * i] === EMPTY) throw new Error(`internal: no range starts at page ${key}`);
      i = (i + 1) & mask;
    }
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const kj = t[2 * j]!;
      if (kj === EMPTY) break;
      const h = this.home(kj);
      // The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
      const inside = i <= j ? h > i && h <= j : h > i || h <= j;
      if (inside) continue;
      t[2 * i] = kj;
      t[2 * i + 1] = t[2 * j + 1]!;
      i = j;
    }
    t[2 * i] = EMPTY;
    this.used--;
  }

  private rehash(buckets: number): void {
    const old = this.table;
    this.table = new Float64Array(2 * buckets).fill(EMPTY);
    this.mask = buckets - 1;
    this.shift = 32 - Math.log2(buckets);
    this.used = 0;
    for (let i = 0; i < old.length; i += 2) {
      const k = old[i]!;
      if (k !== EMPTY) this.insertKey(k, old[i + 1]!);
    }
  }

  private grow(): void {
    const buf = new ArrayBuffer(this.i32.byteLength * 2);
    new Int32Array(buf).set(this.i32);
    this.f64 = new Float64Array(buf);
    this.u32 = new Uint32Array(buf);
    this.i32 = new Int32Array(buf);
  }
}

export const ROW_WORDS = WORDS;
export const ROW_DOUBLES = DWORDS;
