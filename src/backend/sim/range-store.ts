/**
 * Where the attributes of the ranges in the svm_range list live: one 64-byte row per range in typed arrays
 * (a "slot"), the rows being the buckets of a hash table keyed by the range's first page. At 10^5 ranges a
 * call's cost is its cache misses; a set or get of an existing range reads one row, where an object per
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
/** prange->vram_pages and the gpuidx holding them (prange->actual_loc): kept by the migrations. */
export const I_VRAM = 11;
export const I_VGPU = 12;
/**
 * 1 when all of the range's pages are in VRAM (vram_pages == npages, on I_VGPU) and the residency runs do
 * not hold them (Residency.fillWhole): the common whole-range prefetch touches no run.
 */
export const I_LAZY = 13;
/** prange->svm_bo: the BO's id + 1 in RangeList.bos, 0 for none (a new row is zeroed: no BO). */
export const I_BO = 14;

/** An empty bucket's start (page numbers are never negative). */
const EMPTY = -1;

/** What the store keeps per row: the object, told its slot whenever its row moves. */
export interface Slotted {
  slot: number;
}

/**
 * The rows are the buckets of an open-addressing hash table keyed by a range's first page (linear probing,
 * at most half full): finding a range and reading its attributes is one cache line. A row moves when the
 * table grows or a release closes a probe gap; its object's `slot` follows it, so a caller must not keep a
 * slot number across an alloc or a release.
 */
export class RangeStore<T extends Slotted> {
  /** The rows, as doubles (page numbers), unsigned and signed words: three views of one buffer. */
  f64: Float64Array;
  u32: Uint32Array;
  i32: Int32Array;
  /** The object of each occupied row. */
  objs: Array<T | undefined>;
  private mask = 0;
  private shift = 0;
  private used = 0;
  /** The table never shrinks below its first size. */
  private readonly minBuckets: number;

  constructor(initialBuckets = 64) {
    if (!(initialBuckets >= 4 && Number.isInteger(Math.log2(initialBuckets)))) {
      throw new RangeError(`bucket count must be a power of two >= 4, got ${initialBuckets}`);
    }
    this.f64 = new Float64Array(0);
    this.u32 = new Uint32Array(0);
    this.i32 = new Int32Array(0);
    this.objs = [];
    this.minBuckets = initialBuckets;
    this.resize(initialBuckets);
  }

  get size(): number {
    return this.used;
  }

  /** Rows allocated (used or not): at most half used, and at least an eighth unless at the first size. */
  get buckets(): number {
    return this.mask + 1;
  }

  /** Takes a row for `obj`, a range [start, last] (the caller fills its attributes). Returns its slot. */
  alloc(obj: T, start: number, last: number): number {
    if (2 * (this.used + 1) > this.mask + 1) this.resize(2 * (this.mask + 1));
    const f = this.f64;
    let b = this.home(start);
    for (;;) {
      const k = f[b * DWORDS + F_START]!;
      if (k === EMPTY) break;
      if (k === start) throw new Error(`internal: two ranges start at page ${start}`);
      b = (b + 1) & this.mask;
    }
    const i32 = this.i32;
    for (let w = 0; w < WORDS; w++) i32[b * WORDS + w] = 0;
    f[b * DWORDS + F_START] = start;
    f[b * DWORDS + F_LAST] = last;
    this.objs[b] = obj;
    this.used++;
    return b;
  }

  /** Frees a row (its range left the list); rows after it in its probe run may move back. */
  release(slot: number): void {
    const f = this.f64;
    const mask = this.mask;
    let i = slot;
    let j = slot;
    for (;;) {
      j = (j + 1) & mask;
      const kj = f[j * DWORDS + F_START]!;
      if (kj === EMPTY) break;
      const h = this.home(kj);
      // The row at j may fill the hole at i unless its home lies cyclically in (i, j].
      const inside = i <= j ? h > i && h <= j : h > i || h <= j;
      if (inside) continue;
      const i32 = this.i32;
      for (let w = 0; w < WORDS; w++) i32[i * WORDS + w] = i32[j * WORDS + w]!;
      const o = this.objs[j]!;
      this.objs[i] = o;
      o.slot = i;
      i = j;
    }
    f[i * DWORDS + F_START] = EMPTY;
    this.objs[i] = undefined;
    this.used--;
    // Give the memory back after a peak (10^6 ranges hold 128 MiB of rows). Halving at an eighth leaves a
    // quarter used, so growing (at a half) and shrinking cannot alternate on every call.
    const buckets = this.mask + 1;
    if (8 * this.used < buckets && buckets > this.minBuckets) this.resize(buckets / 2);
  }

  start(slot: number): number {
    return this.f64[slot * DWORDS + F_START]!;
  }

  last(slot: number): number {
    return this.f64[slot * DWORDS + F_LAST]!;
  }

  // Field accessors by slot, for the paths that work on a row without its range object (a migration reads
  // and writes a handful of these; at 10^5 ranges the object would be one more cache miss per call).
  pref(k: number): number {
    return this.u32[k * WORDS + U_PREF]!;
  }
  prefetch(k: number): number {
    return this.u32[k * WORDS + U_PREFETCH]!;
  }
  flags(k: number): number {
    return this.u32[k * WORDS + U_FLAGS]!;
  }
  gran(k: number): number {
    return this.i32[k * WORDS + I_GRAN]!;
  }
  access(k: number): number {
    return this.i32[k * WORDS + I_ACCESS]!;
  }
  aip(k: number): number {
    return this.i32[k * WORDS + I_AIP]!;
  }
  mapped(k: number): boolean {
    return this.i32[k * WORDS + I_MAPPED] !== 0;
  }
  setMapped(k: number, v: boolean): void {
    this.i32[k * WORDS + I_MAPPED] = v ? 1 : 0;
  }
  vram(k: number): number {
    return this.i32[k * WORDS + I_VRAM]!;
  }
  setVram(k: number, pages: number): void {
    this.i32[k * WORDS + I_VRAM] = pages;
  }
  vgpu(k: number): number {
    return this.i32[k * WORDS + I_VGPU]!;
  }
  setVgpu(k: number, idx: number): void {
    this.i32[k * WORDS + I_VGPU] = idx;
  }
  lazy(k: number): boolean {
    return this.i32[k * WORDS + I_LAZY] !== 0;
  }
  setLazy(k: number, v: boolean): void {
    this.i32[k * WORDS + I_LAZY] = v ? 1 : 0;
  }
  /** The BO's id + 1, 0 for none. */
  bo(k: number): number {
    return this.i32[k * WORDS + I_BO]!;
  }
  setBo(k: number, ref: number): void {
    this.i32[k * WORDS + I_BO] = ref;
  }

  /** The slot of the range whose first page is `start`, or -1. */
  find(start: number): number {
    const f = this.f64;
    let b = this.home(start);
    for (;;) {
      treeWork.nodes++;
      const k = f[b * DWORDS + F_START]!;
      if (k === start) return b;
      if (k === EMPTY) return -1;
      b = (b + 1) & this.mask;
    }
  }

  /** The slot of the range that is exactly [start, last], or -1. */
  exact(start: number, last: number): number {
    const b = this.find(start);
    return b >= 0 && this.f64[b * DWORDS + F_LAST] === last ? b : -1;
  }

  /** Bucket of a page number: Fibonacci hashing of its low 32 bits mixed with the high ones. */
  private home(key: number): number {
    const lo = key >>> 0;
    const hi = (key / 4294967296) >>> 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  /** Moves every row into a table of `buckets` rows (their objects learn their new slots). */
  private resize(buckets: number): void {
    const oldI32 = this.i32;
    const oldF64 = this.f64;
    const oldObjs = this.objs;
    const buf = new ArrayBuffer(buckets * WORDS * 4);
    this.f64 = new Float64Array(buf);
    this.u32 = new Uint32Array(buf);
    this.i32 = new Int32Array(buf);
    for (let b = 0; b < buckets; b++) this.f64[b * DWORDS + F_START] = EMPTY;
    this.objs = new Array<T | undefined>(buckets).fill(undefined);
    this.mask = buckets - 1;
    this.shift = 32 - Math.log2(buckets);
    const f = this.f64;
    for (let ob = 0; ob < oldObjs.length; ob++) {
      const o = oldObjs[ob];
      if (o === undefined) continue;
      let b = this.home(oldF64[ob * DWORDS + F_START]!);
      while (f[b * DWORDS + F_START] !== EMPTY) b = (b + 1) & this.mask;
      const to = this.i32;
      for (let w = 0; w < WORDS; w++) to[b * WORDS + w] = oldI32[ob * WORDS + w]!;
      this.objs[b] = o;
      o.slot = b;
    }
  }
}

export const ROW_WORDS = WORDS;
export const ROW_DOUBLES = DWORDS;
