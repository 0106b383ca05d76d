/**
 * Ordered maps of disjoint half-open intervals [start, end) over page numbers, as a B+ tree keyed by `start`
 * (sorted arrays of double keys per node, leaves linked in order). Every lookup, insert and delete is O(log n)
 * in the number of intervals, never in their length: a 64 GiB interval is one entry. A B+ tree rather than
 * a binary tree because at 10^5 ranges the cost of a lookup is its cache misses: a treap descent touched ~25
 * scattered nodes, this one touches 3 nodes whose keys are contiguous.
 *
 * Page numbers are JS numbers: a u64 address shifted by PAGE_SHIFT is below 2^52, exact in a double.
 *
 * `IntervalMap` stores intervals as given (the kernel's svm_range objects are never merged).
 * `RunMap` keeps *runs*: assigning a value to a span splits the runs at its ends and merges equal
 * neighbours, so state that is per page in the kernel (residency, GPU PTEs, VMAs) costs O(runs).
 */

export interface Interval<V> {
  start: number;
  end: number;
  value: V;
}

/**
 * Work counter (sim internals, read by tests): tree nodes visited by lookups, inserts, deletes and walks,
 * and hash buckets probed by the range store (range-store.ts). Tests pin the O(log n + k) bound with it
 * instead of with time.
 */
export const treeWork = { nodes: 0 };

/** A leaf: up to `cap` intervals sorted by start, linked to its neighbours for in-order walks. */
interface Leaf<V> {
  leaf: true;
  n: number;
  keys: number[];
  /**
   * Each interval's end and value beside its start, not an object per interval: page numbers above 2^31
   * are boxed doubles in object fields, so reading `item.end` would be one more cache miss per lookup.
   */
  ends: number[];
  vals: Array<V | undefined>;
  prev: Leaf<V> | undefined;
  next: Leaf<V> | undefined;
}

/** An inner node: keys[i] is a lower bound of every start in kids[i] (and every start of kids[i] < keys[i+1]). */
interface Inner<V> {
  leaf: false;
  n: number;
  keys: number[];
  kids: Array<Node<V> | undefined>;
}

type Node<V> = Leaf<V> | Inner<V>;

/** The default node size: 1e5 intervals are 3 levels, and a node's keys are a few adjacent cache lines. */
const DEFAULT_CAP = 64;

/** A key array of doubles from the start (PACKED_DOUBLE_ELEMENTS: the numbers sit inline in the array). */
function newKeys(len: number): number[] {
  return new Array<number>(len).fill(0.5);
}

/** Copies leaf entry si of src to slot di of dst. */
function moveEntry<V>(dst: Leaf<V>, di: number, src: Leaf<V>, si: number): void {
  dst.keys[di] = src.keys[si]!;
  dst.ends[di] = src.ends[si]!;
  dst.vals[di] = src.vals[si];
}

/** The last index i < n with keys[i] <= key, or -1. */
function floorIdx(keys: readonly number[], n: number, key: number): number {
  let lo = 0;
  let hi = n; // answer in [lo-1, hi-1]
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

export class IntervalMap<V> {
  private root: Node<V>;
  private count = 0;
  private readonly cap: number;
  private readonly min: number;
  /** The descent of the last insert/delete: inner nodes and the child index taken (reused, no allocation). */
  private readonly pathNodes: Array<Inner<V> | undefined> = [];
  private readonly pathIdx: number[] = [];

  /**
   * A B+ tree of disjoint intervals keyed by start. `cap` (≥ 4) is the most entries a node holds; tests use
   * small ones to exercise splits and merges with few intervals.
   */
  constructor(cap: number = DEFAULT_CAP) {
    if (!Number.isInteger(cap) || cap < 4) throw new RangeError(`node capacity must be an integer >= 4, got ${cap}`);
    this.cap = cap;
    // At least 2, so a non-root node always has a sibling to merge with and a leaf is never empty.
    this.min = Math.max(2, cap >> 2);
    this.root = this.newLeaf();
  }

  get size(): number {
    return this.count;
  }

  private newLeaf(): Leaf<V> {
    const len = this.cap + 1;
    return { leaf: true, n: 0, keys: newKeys(len), ends: newKeys(len), vals: new Array<V | undefined>(len).fill(undefined), prev: undefined, next: undefined };
  }

  private newInner(): Inner<V> {
    return { leaf: false, n: 0, keys: newKeys(this.cap + 1), kids: new Array<Node<V> | undefined>(this.cap + 1).fill(undefined) };
  }

  /**
   * The finger: the leaf of the last descent, the keys [fLo, fHi) that descend to it and the depth of its
   * path (pathNodes/pathIdx still hold that path). A call touches one neighbourhood several times (a
   * migration reads, clips and rewrites the runs around one range), so later descents start at the leaf.
   * Any split, borrow, merge or root change moves separators or paths and drops the finger.
   */
  private fLeaf: Leaf<V> | undefined;
  private fLo = 0;
  private fHi = 0;
  private fDepth = 0;

  /** Descends to the leaf whose key range holds `key`, recording the path. Returns the path length. */
  private descend(key: number): number {
    if (this.fLeaf !== undefined && key >= this.fLo && key < this.fHi) {
      treeWork.nodes++;
      return this.fDepth;
    }
    let t = this.root;
    let d = 0;
    let lo = -Infinity;
    let hi = Infinity;
    while (!t.leaf) {
      treeWork.nodes++;
      const i = Math.max(0, floorIdx(t.keys, t.n, key));
      // Keys choosing child i here: [keys[i], keys[i+1]), with everything below keys[1] going to child 0.
      if (i > 0 && t.keys[i]! > lo) lo = t.keys[i]!;
      if (i + 1 < t.n && t.keys[i + 1]! < hi) hi = t.keys[i + 1]!;
      this.pathNodes[d] = t;
      this.pathIdx[d] = i;
      d++;
      t = t.kids[i]!;
    }
    treeWork.nodes++;
    this.fLeaf = t;
    this.fLo = lo;
    this.fHi = hi;
    this.fDepth = d;
    return d;
  }

  /** The leaf whose key range holds `key`. */
  private leafFor(key: number): Leaf<V> {
    return this.leafAt(this.descend(key));
  }

  private leafAt(d: number): Leaf<V> {
    return (d === 0 ? this.root : this.pathNodes[d - 1]!.kids[this.pathIdx[d - 1]!]!) as Leaf<V>;
  }

  /** Inserts [start, end). The caller guarantees it overlaps no stored interval. */
  insert(start: number, end: number, value: V): void {
    if (!(end > start)) throw new RangeError(`empty interval [${start}, ${end})`);
    const d = this.descend(start);
    const leaf = this.leafAt(d);
    const at = floorIdx(leaf.keys, leaf.n, start) + 1;
    for (let j = leaf.n; j > at; j--) moveEntry(leaf, j, leaf, j - 1);
    leaf.keys[at] = start;
    leaf.ends[at] = end;
    leaf.vals[at] = value;
    leaf.n++;
    this.count++;
    if (leaf.n > this.cap) this.splitUp(leaf, d, at === leaf.n - 1);
  }

  /**
   * Splits an overfull node at depth d (path recorded by descend), and its ancestors as needed. A node that
   * overflowed by appending at its end (ascending registration, the usual order) keeps all but 2 entries,
   * so sequential loads fill nodes instead of leaving them half empty (a level less at 10^5 ranges).
   */
  private splitUp(node: Node<V>, d: number, atEnd: boolean): void {
    this.fLeaf = undefined;
    for (;;) {
      const half = atEnd ? node.n - 2 : node.n >> 1;
      let right: Node<V>;
      if (node.leaf) {
        const r = this.newLeaf();
        for (let j = half; j < node.n; j++) {
          moveEntry(r, j - half, node, j);
          node.vals[j] = undefined;
        }
        r.n = node.n - half;
        r.next = node.next;
        if (r.next) r.next.prev = r;
        r.prev = node;
        node.next = r;
        right = r;
      } else {
        const r = this.newInner();
        for (let j = half; j < node.n; j++) {
          r.keys[j - half] = node.keys[j]!;
          r.kids[j - half] = node.kids[j];
          node.kids[j] = undefined;
        }
        r.n = node.n - half;
        right = r;
      }
      node.n = half;
      const sep = right.keys[0]!;
      if (d === 0) {
        const root = this.newInner();
        root.keys[0] = node.keys[0]!;
        root.kids[0] = node;
        root.keys[1] = sep;
        root.kids[1] = right;
        root.n = 2;
        this.root = root;
        return;
      }
      const parent = this.pathNodes[d - 1]!;
      const at = this.pathIdx[d - 1]! + 1;
      for (let j = parent.n; j > at; j--) {
        parent.keys[j] = parent.keys[j - 1]!;
        parent.kids[j] = parent.kids[j - 1];
      }
      parent.keys[at] = sep;
      parent.kids[at] = right;
      parent.n++;
      if (parent.n <= this.cap) return;
      atEnd = at === parent.n - 1;
      node = parent;
      d--;
    }
  }

  /** Removes the interval that starts at `start`, if any. */
  delete(start: number): boolean {
    const d = this.descend(start);
    const leaf = this.leafAt(d);
    const i = floorIdx(leaf.keys, leaf.n, start);
    if (i < 0 || leaf.keys[i] !== start) return false;
    for (let j = i; j < leaf.n - 1; j++) moveEntry(leaf, j, leaf, j + 1);
    leaf.n--;
    leaf.vals[leaf.n] = undefined;
    this.count--;
    this.rebalance(leaf, d);
    return true;
  }

  /** After a removal: an underfull node borrows from or merges with a sibling, up to the root. */
  private rebalance(node: Node<V>, d: number): void {
    if (node.n < this.min) this.fLeaf = undefined;
    while (d > 0 && node.n < this.min) {
      const parent = this.pathNodes[d - 1]!;
      const i = this.pathIdx[d - 1]!;
      // Prefer the right sibling; the last child uses its left one.
      const li = i + 1 < parent.n ? i : i - 1;
      if (li < 0) break; // an only child: nothing to balance with (the root collapse below handles it)
      const left = parent.kids[li]!;
      const right = parent.kids[li + 1]!;
      if (left.n + right.n <= this.cap) {
        this.mergeInto(left, right, parent.keys[li + 1]!);
        for (let j = li + 1; j < parent.n - 1; j++) {
          parent.keys[j] = parent.keys[j + 1]!;
          parent.kids[j] = parent.kids[j + 1];
        }
        parent.n--;
        parent.kids[parent.n] = undefined;
        node = parent;
        d--;
        continue;
      }
      // Borrow one entry across the boundary, towards the underfull side.
      if (left === node) this.shiftLeft(left, right, parent.keys[li + 1]!);
      else this.shiftRight(left, right, parent.keys[li + 1]!);
      parent.keys[li + 1] = right.keys[0]!;
      return;
    }
    if (d === 0 && !node.leaf && node.n === 1) {
      this.root = node.kids[0]!;
      // A collapsed root may itself be an inner node with one child (after cascading merges).
      while (!this.root.leaf && this.root.n === 1) this.root = this.root.kids[0]!;
    }
  }

  /** Appends `right` to `left` (siblings of one parent; `sep` is right's bound there) and unlinks right. */
  private mergeInto(left: Node<V>, right: Node<V>, sep: number): void {
    const base = left.n;
    if (left.leaf && right.leaf) {
      for (let j = 0; j < right.n; j++) moveEntry(left, base + j, right, j);
      left.next = right.next;
      if (left.next) left.next.prev = left;
    } else if (!left.leaf && !right.leaf) {
      for (let j = 0; j < right.n; j++) {
        left.keys[base + j] = j === 0 ? sep : right.keys[j]!;
        left.kids[base + j] = right.kids[j];
      }
    }
    left.n += right.n;
  }

  /** Moves right's first entry to the end of left (`sep`: right's bound in the parent). */
  private shiftLeft(left: Node<V>, right: Node<V>, sep: number): void {
    if (left.leaf && right.leaf) {
      moveEntry(left, left.n, right, 0);
      for (let j = 0; j < right.n - 1; j++) moveEntry(right, j, right, j + 1);
      right.vals[right.n - 1] = undefined;
    } else if (!left.leaf && !right.leaf) {
      left.keys[left.n] = sep;
      left.kids[left.n] = right.kids[0];
      for (let j = 0; j < right.n - 1; j++) {
        right.keys[j] = right.keys[j + 1]!;
        right.kids[j] = right.kids[j + 1];
      }
      right.kids[right.n - 1] = undefined;
    }
    left.n++;
    right.n--;
  }

  /** Moves left's last entry to the front of right (`sep`: right's bound in the parent). */
  private shiftRight(left: Node<V>, right: Node<V>, sep: number): void {
    if (left.leaf && right.leaf) {
      for (let j = right.n; j > 0; j--) moveEntry(right, j, right, j - 1);
      moveEntry(right, 0, left, left.n - 1);
      left.vals[left.n - 1] = undefined;
    } else if (!left.leaf && !right.leaf) {
      for (let j = right.n; j > 0; j--) {
        right.keys[j] = j === 1 ? sep : right.keys[j - 1]!;
        right.kids[j] = right.kids[j - 1];
      }
      right.keys[0] = left.keys[left.n - 1]!;
      right.kids[0] = left.kids[left.n - 1];
      left.kids[left.n - 1] = undefined;
    }
    left.n--;
    right.n++;
  }

  /**
   * Where the greatest start <= key is: sets hitLeaf/hitIdx (hitLeaf undefined when there is none). Every
   * start of the leaf found may be above key (its smallest was deleted): the floor then ends the previous leaf.
   */
  private locateFloor(key: number): void {
    const leaf = this.leafFor(key);
    const i = floorIdx(leaf.keys, leaf.n, key);
    if (i >= 0) {
      this.hitLeaf = leaf;
      this.hitIdx = i;
      return;
    }
    const p = leaf.prev;
    this.hitLeaf = p;
    this.hitIdx = p ? p.n - 1 : -1;
  }

  private hitLeaf: Leaf<V> | undefined;
  private hitIdx = -1;

  private entry(leaf: Leaf<V>, i: number): Interval<V> {
    return { start: leaf.keys[i]!, end: leaf.ends[i]!, value: leaf.vals[i]! };
  }

  /** The interval with the greatest start <= key. */
  floor(key: number): Interval<V> | undefined {
    this.locateFloor(key);
    const l = this.hitLeaf;
    return l ? this.entry(l, this.hitIdx) : undefined;
  }

  /** The interval with the smallest start > key. */
  after(key: number): Interval<V> | undefined {
    const leaf = this.leafFor(key);
    const i = floorIdx(leaf.keys, leaf.n, key) + 1;
    if (i < leaf.n) return this.entry(leaf, i);
    const nx = leaf.next;
    if (nx) treeWork.nodes++;
    return nx ? this.entry(nx, 0) : undefined;
  }

  /** The interval with the greatest start < key. */
  before(key: number): Interval<V> | undefined {
    return this.floor(key - 1);
  }

  /** The interval containing page `p`. */
  at(p: number): Interval<V> | undefined {
    this.locateFloor(p);
    const l = this.hitLeaf;
    return l && l.ends[this.hitIdx]! > p ? this.entry(l, this.hitIdx) : undefined;
  }

  /** The value of the interval containing page `p` (no object made). */
  valueAt(p: number): V | undefined {
    this.locateFloor(p);
    const l = this.hitLeaf;
    return l && l.ends[this.hitIdx]! > p ? l.vals[this.hitIdx] : undefined;
  }

  /**
   * Allocation-free lookups for hot loops: seekAt / seekFirst find an interval and leave it as the current
   * one, read with curStart / curEnd / curValue until the next lookup or change.
   */
  seekAt(p: number): boolean {
    this.locateFloor(p);
    const l = this.hitLeaf;
    return l !== undefined && l.ends[this.hitIdx]! > p;
  }

  seekFirst(a: number, b: number): boolean {
    return this.locateFirst(a, b);
  }

  get curStart(): number {
    return this.hitLeaf!.keys[this.hitIdx]!;
  }

  get curEnd(): number {
    return this.hitLeaf!.ends[this.hitIdx]!;
  }

  get curValue(): V {
    return this.hitLeaf!.vals[this.hitIdx]!;
  }

  /** True when one interval holds all of [a, b) (a < b) and has this value (no object made). */
  covers(a: number, b: number, value: V): boolean {
    this.locateFloor(a);
    const l = this.hitLeaf;
    const i = this.hitIdx;
    return l !== undefined && l.ends[i]! >= b && l.ends[i]! > a && l.vals[i] === value;
  }

  /** The value of the interval that is exactly [start, end), if there is one. */
  exact(start: number, end: number): V | undefined {
    this.locateFloor(start);
    const l = this.hitLeaf;
    const i = this.hitIdx;
    return l && l.keys[i] === start && l.ends[i] === end ? l.vals[i] : undefined;
  }

  /** The first interval overlapping [a, b) (interval_tree_iter_first). */
  first(a: number, b: number): Interval<V> | undefined {
    return this.locateFirst(a, b) ? this.entry(this.hitLeaf!, this.hitIdx) : undefined;
  }

  /** The value of the first interval overlapping [a, b) (no object made). */
  firstValue(a: number, b: number): V | undefined {
    return this.locateFirst(a, b) ? this.hitLeaf!.vals[this.hitIdx] : undefined;
  }

  /** Sets hitLeaf/hitIdx to the first interval overlapping [a, b); false when there is none. */
  private locateFirst(a: number, b: number): boolean {
    let leaf = this.leafFor(a);
    let i = floorIdx(leaf.keys, leaf.n, a);
    if (i >= 0) {
      if (leaf.ends[i]! > a) return this.hit(leaf, i);
    } else if (leaf.prev) {
      const p = leaf.prev;
      if (p.ends[p.n - 1]! > a) return this.hit(p, p.n - 1);
    }
    i++;
    if (i >= leaf.n) {
      if (!leaf.next) return false;
      leaf = leaf.next;
      treeWork.nodes++;
      i = 0;
    }
    return leaf.keys[i]! < b && this.hit(leaf, i);
  }

  private hit(leaf: Leaf<V>, i: number): true {
    this.hitLeaf = leaf;
    this.hitIdx = i;
    return true;
  }

  /**
   * The intervals overlapping [a, b), in address order, as an array taken before the caller mutates the
   * map (interval_tree_iter_first/next with a saved `next`). One descent, then the leaf chain: O(log n + k).
   */
  overlapping(a: number, b: number): Interval<V>[] {
    const out: Interval<V>[] = [];
    this.walk(a, b, out, false);
    return out;
  }

  /** The values of the intervals overlapping [a, b), in address order (no intermediate objects). */
  overlappingValues(a: number, b: number): V[] {
    const out: V[] = [];
    this.walk(a, b, out, true);
    return out;
  }

  private walk(a: number, b: number, out: unknown[], values: boolean): void {
    let leaf: Leaf<V> | undefined = this.leafFor(a);
    let i = floorIdx(leaf.keys, leaf.n, a);
    if (i >= 0) {
      if (leaf.ends[i]! > a) out.push(values ? leaf.vals[i] : this.entry(leaf, i));
    } else if (leaf.prev) {
      const p = leaf.prev;
      if (p.ends[p.n - 1]! > a) out.push(values ? p.vals[p.n - 1] : this.entry(p, p.n - 1));
    }
    i++;
    for (;;) {
      if (i >= leaf.n) {
        leaf = leaf.next;
        if (!leaf) break;
        treeWork.nodes++;
        i = 0;
      }
      if (leaf.keys[i]! >= b) break;
      out.push(values ? leaf.vals[i] : this.entry(leaf, i));
      i++;
    }
  }

  /** The height of the tree in levels (tests check it stays logarithmic). */
  depth(): number {
    let h = 1;
    for (let t = this.root; !t.leaf; t = t.kids[0]!) h++;
    return h;
  }

  /** Every interval in order (for snapshots and tests). */
  all(): Interval<V>[] {
    let t = this.root;
    while (!t.leaf) t = t.kids[0]!;
    const out: Interval<V>[] = [];
    for (let l: Leaf<V> | undefined = t; l; l = l.next) {
      treeWork.nodes++;
      for (let j = 0; j < l.n; j++) out.push(this.entry(l, j));
    }
    return out;
  }
}

/**
 * Runs of equal values over pages; pages with no run have the "absent" value. `equal` decides when two
 * neighbouring runs merge.
 */
export class RunMap<V> {
  private readonly map = new IntervalMap<V>();

  constructor(private readonly equal: (a: V, b: V) => boolean = Object.is) {}

  get size(): number {
    return this.map.size;
  }

  at(p: number): V | undefined {
    return this.map.valueAt(p);
  }

  /** The runs overlapping [a, b), clipped to it. */
  runs(a: number, b: number): Interval<V>[] {
    return this.map.overlapping(a, b).map((r) => ({ start: Math.max(r.start, a), end: Math.min(r.end, b), value: r.value }));
  }

  /** The run containing page `p`, unclipped. */
  runAt(p: number): Interval<V> | undefined {
    return this.map.at(p);
  }

  /** The end of the run holding page p, or -1 when p is in no run. */
  endAt(p: number): number {
    return this.map.seekAt(p) ? this.map.curEnd : -1;
  }

  /** True when one run with this value holds all of [a, b) (a < b). */
  covers(a: number, b: number, value: V): boolean {
    return this.map.covers(a, b, value);
  }

  /** The value of the first run in [a, b), if any. */
  firstValue(a: number, b: number): V | undefined {
    return this.map.firstValue(a, b);
  }

  /** The first run in [a, b) whose value satisfies `pred`, clipped to [a, b). */
  find(a: number, b: number, pred: (v: V) => boolean): Interval<V> | undefined {
    const first = this.map.first(a, b);
    if (!first) return undefined;
    if (pred(first.value)) return { start: Math.max(first.start, a), end: Math.min(first.end, b), value: first.value };
    for (const cur of this.map.overlapping(a, b)) {
      if (pred(cur.value)) return { start: Math.max(cur.start, a), end: Math.min(cur.end, b), value: cur.value };
    }
    return undefined;
  }

  /** The first absent page in [a, b) and the extent of that hole within [a, b). */
  firstGap(a: number, b: number): { start: number; end: number } | undefined {
    let p = a;
    let r = this.map.at(p);
    while (r) {
      p = r.end;
      if (p >= b) return undefined;
      r = this.map.at(p);
    }
    const next = this.map.after(p);
    return { start: p, end: next && next.start < b ? next.start : b };
  }

  /** Pages in [a, b) that have a value satisfying `pred`. */
  count(a: number, b: number, pred: (v: V) => boolean = () => true): number {
    let n = 0;
    for (const r of this.runs(a, b)) if (pred(r.value)) n += r.end - r.start;
    return n;
  }

  /** The gaps (absent pages) within [a, b). */
  gaps(a: number, b: number): Array<{ start: number; end: number }> {
    const out: Array<{ start: number; end: number }> = [];
    let p = a;
    for (const r of this.runs(a, b)) {
      if (r.start > p) out.push({ start: p, end: r.start });
      p = r.end;
    }
    if (p < b) out.push({ start: p, end: b });
    return out;
  }

  /**
   * Sets [a, b) to `value`, or clears it when `value` is undefined. `replaced` sees each old run's part
   * within [a, b) first (callers keeping totals need no separate walk).
   */
  assign(a: number, b: number, value: V | undefined, replaced?: (start: number, end: number, value: V) => void): void {
    if (!(b > a)) return;
    const m = this.map;
    // The runs overlapping [a, b), first to last: each is cut out, its parts outside [a, b) put back (they
    // no longer overlap, so the next seek finds the next run). No list of runs and no Interval objects.
    while (m.seekFirst(a, b)) {
      const rs = m.curStart;
      const re = m.curEnd;
      const rv = m.curValue;
      if (replaced) replaced(Math.max(rs, a), Math.min(re, b), rv);
      m.delete(rs);
      if (rs < a) m.insert(rs, a, rv);
      if (re > b) m.insert(b, re, rv);
    }
    if (value === undefined) return;
    let start = a;
    let end = b;
    if (m.seekAt(a - 1) && m.curEnd === a && this.equal(m.curValue, value)) {
      start = m.curStart;
      m.delete(start);
    }
    if (m.seekAt(b) && m.curStart === b && this.equal(m.curValue, value)) {
      end = m.curEnd;
      m.delete(b);
    }
    m.insert(start, end, value);
  }


  all(): Interval<V>[] {
    return this.map.all();
  }
}
