/**
 * The svm_range_bo's of a process (kfd_svm.c: struct svm_range_bo), as records in typed arrays: the VRAM
 * buffer svm_range_vram_node_new allocates for a whole range (prange->npages) the first time any of its
 * pages moves to a GPU, shared by the pieces of the range when it is split later, and held until no range
 * refers to it. The TTM LRU lists run through the records.
 *
 * Why records and not objects: a prefetch pass over 10^5 ranges makes 10^5 BOs that live until the pass
 * back. As objects every one of them survived the young generation, and the scavenges copying them made a
 * prefetch in that pass up to twice as slow as one in the pass back. Records cost the collector nothing.
 *
 * A BO is known by its id (an index here). A range's row refers to it as id + 1 (0: none). Freed ids are
 * reused, so an id is only meaningful while the BO is live or referred to by a range in the list. The table
 * keeps its peak size (rows hold ids, so records cannot move): 40 bytes per BO at the peak.
 *
 * The LRU lists are per VRAM pool (SimGpu.memPool), not per GPU: TTM evicts from the device's LRU whatever
 * lies in the placement asked for, which for a partition node is its memory partition
 * (amdgpu_bo_placement_from_domain), shared by the XCPs of that partition. A pool's list keeps the order
 * of the device's LRU restricted to the pool, which is all eviction looks at.
 */

/** Record layout in 32-bit words (10 per record, 40 bytes); the last four hold two doubles. */
const WORDS = 10;
const W_GPU = 0;
/** Bit 0: live (counted in its GPU's VRAM use); bit 1: on its pool's LRU list. */
const W_STATE = 1;
const W_PAGES = 2;
/** LRU neighbours by id (-1 at either end); a freed record's W_NEXT links the free list. */
const W_PREV = 3;
const W_NEXT = 4;
/** In doubles: the first page of its only member, or -1 (see `many`), and that member's place. */
const D_ONE = 3;
const D_ONE_SEQ = 4;

const LIVE = 1;
const IN_LRU = 2;
const NONE = -1;

export class BoTable {
  private i32 = new Int32Array(0);
  private f64 = new Float64Array(0);
  private capacity = 0;
  private count = 0;
  private freeHead = NONE;
  /**
   * The member lists of BOs shared by two ranges or more, by id. A BO's ranges (svm_bo->range_list) are
   * known by their first pages (unique in the list, fixed while a range is in it; only ranges in the list
   * are on a BO's list, as svm_range_unlink takes a range off both), in the list's order: a range joins at
   * the head (list_add in svm_range_vram_node_new, svm_range_clone and svm_range_split_adjust), and the
   * eviction worker takes them from the head (svm_range_evict_svm_bo_worker: list_first_entry). Each
   * member has a place (`seq`), so the order is kept without moving entries: joining, leaving and taking a
   * place are O(1), and a range split page by page makes a BO of 10^5 members without quadratic work. A lone
   * member is in the record (D_ONE, D_ONE_SEQ); once a second joins, all of them are here (first page →
   * place). Most BOs serve one range: no Map at all.
   */
  private readonly many = new Map<number, Map<number, number>>();
  /** Places in member lists: a range joining one gets the next number; the head is the highest. */
  private seq = 0;
  /** Per VRAM pool: the LRU list's head (least recently used) and tail, by id. */
  private readonly lruHead: Int32Array;
  private readonly lruTail: Int32Array;

  /** `poolOf[gpuIdx]`: the VRAM pool of each GPU (pools numbered from 0). */
  constructor(private readonly poolOf: readonly number[]) {
    const pools = poolOf.length === 0 ? 0 : Math.max(...poolOf) + 1;
    this.lruHead = new Int32Array(pools).fill(NONE);
    this.lruTail = new Int32Array(pools).fill(NONE);
    this.grow(64);
  }

  /** A new live BO of `pages` on the GPU of index gpuIdx, made for the range starting at page `start`. */
  alloc(gpuIdx: number, pages: number, start: number): number {
    let id = this.freeHead;
    if (id !== NONE) this.freeHead = this.i32[id * WORDS + W_NEXT]!;
    else {
      if (this.count === this.capacity) this.grow(2 * this.capacity);
      id = this.count++;
    }
    const w = id * WORDS;
    const i32 = this.i32;
    i32[w + W_GPU] = gpuIdx;
    i32[w + W_STATE] = LIVE;
    i32[w + W_PAGES] = pages;
    i32[w + W_PREV] = NONE;
    i32[w + W_NEXT] = NONE;
    this.f64[id * (WORDS / 2) + D_ONE] = start;
    this.f64[id * (WORDS / 2) + D_ONE_SEQ] = ++this.seq;
    return id;
  }

  /** Gives a BO's record back (it left its LRU list and nothing refers to it). */
  free(id: number): void {
    this.i32[id * WORDS + W_STATE] = 0;
    this.i32[id * WORDS + W_NEXT] = this.freeHead;
    this.many.delete(id);
    this.freeHead = id;
  }

  gpu(id: number): number {
    return this.i32[id * WORDS + W_GPU]!;
  }

  pages(id: number): number {
    return this.i32[id * WORDS + W_PAGES]!;
  }

  live(id: number): boolean {
    return (this.i32[id * WORDS + W_STATE]! & LIVE) !== 0;
  }

  // ---------------------------------------------------------------- svm_bo->range_list

  /** The range starting at page `start` joins a BO's range list at its head (a no-op if it is on it). */
  addMember(id: number, start: number): void {
    const many = this.many.get(id);
    if (many) {
      if (!many.has(start)) many.set(start, ++this.seq);
      return;
    }
    const d = id * (WORDS / 2) + D_ONE;
    const one = this.f64[d]!;
    if (one < 0) {
      this.f64[d] = start;
      this.f64[d + 1] = ++this.seq;
    } else if (one !== start) {
      this.many.set(id, new Map([[one, this.f64[d + 1]!], [start, ++this.seq]]));
      this.f64[d] = NONE;
    }
  }

  /** The place of the range starting at `start` in a BO's range list, or -1 if it is not on it. */
  placeOf(id: number, start: number): number {
    const many = this.many.get(id);
    if (many) return many.get(start) ?? -1;
    const d = id * (WORDS / 2) + D_ONE;
    return this.f64[d] === start ? this.f64[d + 1]! : -1;
  }

  /** Puts a member of a BO's range list at `place` (one placeOf gave for a range that left the list). */
  setPlace(id: number, start: number, place: number): void {
    const many = this.many.get(id);
    if (many) {
      if (many.has(start)) many.set(start, place);
      return;
    }
    const d = id * (WORDS / 2) + D_ONE;
    if (this.f64[d] === start) this.f64[d + 1] = place;
  }

  /** The range starting at page `start` leaves a BO's range list. */
  deleteMember(id: number, start: number): void {
    const many = this.many.get(id);
    if (many) {
      many.delete(start);
      return;
    }
    const d = id * (WORDS / 2) + D_ONE;
    if (this.f64[d] === start) this.f64[d] = NONE;
  }

  memberCount(id: number): number {
    const many = this.many.get(id);
    if (many) return many.size;
    return this.f64[id * (WORDS / 2) + D_ONE]! >= 0 ? 1 : 0;
  }

  /** The first pages of a BO's ranges, head first (a copy: callers change the list while walking it). */
  members(id: number): number[] {
    const many = this.many.get(id);
    if (many) return [...many].sort((a, b) => b[1] - a[1]).map((e) => e[0]);
    const one = this.f64[id * (WORDS / 2) + D_ONE]!;
    return one >= 0 ? [one] : [];
  }

  // ---------------------------------------------------------------- TTM LRU, per VRAM pool

  /** Puts a BO at the tail of its pool's LRU (most recently used). */
  lruAppend(id: number): void {
    const i32 = this.i32;
    const g = this.poolOf[i32[id * WORDS + W_GPU]!]!;
    const tail = this.lruTail[g]!;
    i32[id * WORDS + W_PREV] = tail;
    i32[id * WORDS + W_NEXT] = NONE;
    if (tail !== NONE) i32[tail * WORDS + W_NEXT] = id;
    else this.lruHead[g] = id;
    this.lruTail[g] = id;
    i32[id * WORDS + W_STATE]! |= IN_LRU;
  }

  /** Takes a BO off its pool's LRU, if it is on it. */
  lruRemove(id: number): void {
    const i32 = this.i32;
    const w = id * WORDS;
    if (!(i32[w + W_STATE]! & IN_LRU)) return;
    const g = this.poolOf[i32[w + W_GPU]!]!;
    const prev = i32[w + W_PREV]!;
    const next = i32[w + W_NEXT]!;
    if (prev !== NONE) i32[prev * WORDS + W_NEXT] = next;
    else this.lruHead[g] = next;
    if (next !== NONE) i32[next * WORDS + W_PREV] = prev;
    else this.lruTail[g] = prev;
    i32[w + W_PREV] = NONE;
    i32[w + W_NEXT] = NONE;
    i32[w + W_STATE]! &= ~IN_LRU;
  }

  /** The least recently used BO of a VRAM pool other than `except` (an id or -1), taken off the LRU; -1 if none. */
  takeVictim(pool: number, except: number): number {
    for (let id = this.lruHead[pool]!; id !== NONE; id = this.i32[id * WORDS + W_NEXT]!) {
      if (id === except) continue;
      this.lruRemove(id);
      return id;
    }
    return NONE;
  }

  private grow(capacity: number): void {
    const buf = new ArrayBuffer(capacity * WORDS * 4);
    const i32 = new Int32Array(buf);
    i32.set(this.i32);
    this.i32 = i32;
    this.f64 = new Float64Array(buf);
    this.capacity = capacity;
  }
}
