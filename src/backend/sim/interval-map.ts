/**
 * Ordered maps of disjoint half-open intervals [start, end) over page numbers, as a treap (a randomised
 * balanced binary search tree keyed by `start`). Every lookup, insert and delete is O(log n) expected in the
 * number of intervals, never in their length: a 64 GiB interval is one node.
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

interface Node<V> extends Interval<V> {
  prio: number;
  left: Node<V> | undefined;
  right: Node<V> | undefined;
}

/** Deterministic priorities (xorshift32), so runs are reproducible. */
let seed = 0x9e3779b9;
function nextPrio(): number {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
}

/** The two halves of the last split (module scratch, so a split allocates nothing). */
let splitLo: Node<unknown> | undefined;
let splitHi: Node<unknown> | undefined;

/** Splits `t` into keys < key (splitLo) and keys >= key (splitHi). */
function splitInto<V>(t: Node<V> | undefined, key: number): void {
  if (!t) {
    splitLo = undefined;
    splitHi = undefined;
    return;
  }
  if (t.start < key) {
    splitInto(t.right, key);
    t.right = splitLo as Node<V> | undefined;
    splitLo = t as Node<unknown>;
  } else {
    splitInto(t.left, key);
    t.left = splitHi as Node<V> | undefined;
    splitHi = t as Node<unknown>;
  }
}


/** Joins two treaps where every key of `a` is below every key of `b`. */
function merge<V>(a: Node<V> | undefined, b: Node<V> | undefined): Node<V> | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.prio > b.prio) {
    a.right = merge(a.right, b);
    return a;
  }
  b.left = merge(a, b.left);
  return b;
}

export class IntervalMap<V> {
  private root: Node<V> | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Inserts [start, end). The caller guarantees it overlaps no stored interval. */
  insert(start: number, end: number, value: V): Interval<V> {
    if (!(end > start)) throw new RangeError(`empty interval [${start}, ${end})`);
    const node: Node<V> = { start, end, value, prio: nextPrio(), left: undefined, right: undefined };
    splitInto(this.root, start);
    const l = splitLo as Node<V> | undefined;
    const r = splitHi as Node<V> | undefined;
    this.root = merge(merge(l, node), r);
    this.count++;
    return node;
  }

  /** Removes the interval that starts at `start`, if any. */
  delete(start: number): boolean {
    splitInto(this.root, start);
    const l = splitLo as Node<V> | undefined;
    splitInto(splitHi as Node<V> | undefined, start + 1);
    const mid = splitLo;
    this.root = merge(l, splitHi as Node<V> | undefined);
    if (mid) this.count--;
    return mid !== undefined;
  }

  /** The interval with the greatest start <= key. */
  floor(key: number): Interval<V> | undefined {
    let t = this.root;
    let best: Node<V> | undefined;
    while (t) {
      if (t.start <= key) {
        best = t;
        t = t.right;
      } else t = t.left;
    }
    return best;
  }

  /** The interval with the smallest start > key. */
  after(key: number): Interval<V> | undefined {
    let t = this.root;
    let best: Node<V> | undefined;
    while (t) {
      if (t.start > key) {
        best = t;
        t = t.left;
      } else t = t.right;
    }
    return best;
  }

  /** The interval with the greatest start < key. */
  before(key: number): Interval<V> | undefined {
    return this.floor(key - 1);
  }

  /** The interval containing page `p`. */
  at(p: number): Interval<V> | undefined {
    const f = this.floor(p);
    return f && f.end > p ? f : undefined;
  }

  /** The first interval overlapping [a, b) (interval_tree_iter_first). */
  first(a: number, b: number): Interval<V> | undefined {
    const f = this.floor(a);
    if (f && f.end > a) return f;
    const n = this.after(a);
    return n && n.start < b ? n : undefined;
  }

  /**
   * The intervals overlapping [a, b), in address order, as an array taken before the caller mutates the
   * map (interval_tree_iter_first/next with a saved `next`).
   */
  overlapping(a: number, b: number): Interval<V>[] {
    // One descent to a, remembering the nodes where it turned left: their top is the first interval after
    // a, and the stack walks the rest in order, so k intervals cost O(log n + k), not k descents.
    const stack: Node<V>[] = [];
    let floor: Node<V> | undefined;
    let t = this.root;
    while (t) {
      if (t.start <= a) {
        floor = t;
        t = t.right;
      } else {
        stack.push(t);
        t = t.left;
      }
    }
    const out: Interval<V>[] = [];
    if (floor && floor.end > a) out.push(floor);
    while (stack.length > 0) {
      const x = stack.pop()!;
      if (x.start >= b) break;
      out.push(x);
      for (let c = x.right; c; c = c.left) stack.push(c);
    }
    return out;
  }

  /** The height of the tree (tests check it stays logarithmic). */
  depth(): number {
    const h = (t: Node<V> | undefined): number => (t ? 1 + Math.max(h(t.left), h(t.right)) : 0);
    return h(this.root);
  }

  /** Every interval in order (for snapshots and tests). */
  all(): Interval<V>[] {
    const out: Interval<V>[] = [];
    const walk = (t: Node<V> | undefined): void => {
      if (!t) return;
      walk(t.left);
      out.push(t);
      walk(t.right);
    };
    walk(this.root);
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
    return this.map.at(p)?.value;
  }

  /** The runs overlapping [a, b), clipped to it. */
  runs(a: number, b: number): Interval<V>[] {
    return this.map.overlapping(a, b).map((r) => ({ start: Math.max(r.start, a), end: Math.min(r.end, b), value: r.value }));
  }

  /** The run containing page `p`, unclipped. */
  runAt(p: number): Interval<V> | undefined {
    return this.map.at(p);
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

  /** Sets [a, b) to `value`, or clears it when `value` is undefined. */
  assign(a: number, b: number, value: V | undefined): void {
    if (!(b > a)) return;
    for (const r of this.map.overlapping(a, b)) {
      this.map.delete(r.start);
      if (r.start < a) this.map.insert(r.start, a, r.value);
      if (r.end > b) this.map.insert(b, r.end, r.value);
    }
    if (value === undefined) return;
    let start = a;
    let end = b;
    const prev = this.map.at(a - 1);
    if (prev && prev.end === a && this.equal(prev.value, value)) {
      start = prev.start;
      this.map.delete(prev.start);
    }
    const next = this.map.at(b);
    if (next && next.start === b && this.equal(next.value, value)) {
      end = next.end;
      this.map.delete(next.start);
    }
    this.map.insert(start, end, value);
  }

  all(): Interval<V>[] {
    return this.map.all();
  }
}
