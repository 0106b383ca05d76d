/**
 * Where pages live and what holds them: runs of pages resident in a GPU's VRAM (every other mapped page is
 * in system memory), and the SVM BOs (svm_range_bo) that hold VRAM, in each GPU's TTM LRU. A GPU's VRAM
 * use is the size of its live BOs, as in the kernel (a BO is as large as the range it was made for, however
 * few of its pages have moved). Pure bookkeeping: the migrations that move pages are in process.ts.
 */
import { PAGE_SHIFT } from '../abi.js';
import type { SimGpu } from './devices.js';
import { RunMap } from './interval-map.js';
import { boDelete, boSize, type RangeList, type SvmBo, type SvmRange } from './ranges.js';

export type PageLocation = 'system' | 'device-private' | 'device-coherent';

export interface SnapshotRun {
  start: bigint;
  size: bigint;
  location: PageLocation;
  gpuId?: number;
}

const SHIFT = BigInt(PAGE_SHIFT);

export class Residency {
  /**
   * Runs of VRAM pages; the value is the gpuidx. The pages of a range flagged `lazy` (all of it in VRAM on
   * its vramIdx) are not in them: a page is in VRAM when a run or a lazy range says so (see fillWhole).
   */
  readonly runs = new RunMap<number>();
  /** How many ranges are lazy (readers of the runs over a span skip the range walk when none is). */
  lazyRanges = 0;
  /** Pages of live BOs per GPU. */
  private readonly used: number[];
  /** Pages resident per GPU. */
  private readonly resident: number[];
  /**
   * Per GPU: the SVM BOs in its VRAM, least recently used first, as TTM's LRU list_head: a doubly linked
   * list through the BOs (a Map of 5*10^4 BOs cost ~400 ns per delete + set on this machine; this, ~30).
   */
  private readonly lru: Array<{ head: SvmBo | undefined; tail: SvmBo | undefined }>;

  /**
   * The migrations work on a range's row (slot k of `list.store`), not its object: a slot is valid until
   * the next insert or remove of the list, which no Residency call makes.
   */
  constructor(
    private readonly gpus: readonly SimGpu[],
    private readonly list: RangeList,
  ) {
    this.used = gpus.map(() => 0);
    this.resident = gpus.map(() => 0);
    this.lru = gpus.map(() => ({ head: undefined, tail: undefined }));
  }

  /** VRAM pages allocated to SVM BOs on a GPU. */
  usedPages(g: SimGpu): number {
    return this.used[g.idx] ?? 0;
  }

  /** Pages that live in a GPU's VRAM (at most usedPages). */
  residentPages(g: SimGpu): number {
    return this.resident[g.idx] ?? 0;
  }

  freePages(g: SimGpu): number {
    return g.vramPages - this.usedPages(g);
  }

  /** prange->actual_loc: the gpu_id holding this range's VRAM pages, or 0 (from the range's own count). */
  actualLoc(r: SvmRange): number {
    return r.vramPages > 0 ? (this.gpus[r.vramIdx]?.gpuId ?? 0) : 0;
  }

  /** actualLoc of the range in row k. */
  actualAt(k: number): number {
    const st = this.list.store;
    return st.vram(k) > 0 ? (this.gpus[st.vgpu(k)]?.gpuId ?? 0) : 0;
  }

  /** Counts the VRAM pages of the range in row k from the runs (when it joins the list: a clone or a split piece). */
  countRange(k: number): void {
    const st = this.list.store;
    const a = st.start(k);
    const b = st.last(k) + 1;
    const idx = this.runs.firstValue(a, b);
    // A new range in a hole (registration) has no VRAM page: one lookup, no list of runs.
    st.setVram(k, idx === undefined ? 0 : this.runs.count(a, b));
    st.setVgpu(k, idx ?? 0);
  }

  /** Pages of [a, b) on the GPU with this index. */
  countOn(a: number, b: number, idx: number): number {
    return this.runs.count(a, b, (v) => v === idx);
  }

  /** Puts [a, b) in a GPU's VRAM (gpuidx) or in system memory (undefined). */
  set(a: number, b: number, idx: number | undefined): void {
    if (!(b > a)) return;
    if (idx !== undefined) this.resident[idx] = (this.resident[idx] ?? 0) + (b - a);
    this.runs.assign(a, b, idx, this.unresident);
  }

  /**
   * All pages of the range in row k, none of them in VRAM, move to the GPU of index idx, written as the
   * range's `lazy` flag instead of a run (at 10^5 one-page ranges a run insert/delete in the B+ tree was a
   * third of a prefetch). The caller sets the row's VRAM count and GPU.
   */
  fillWhole(k: number, idx: number): void {
    const st = this.list.store;
    this.resident[idx] = (this.resident[idx] ?? 0) + (st.last(k) - st.start(k) + 1);
    st.setLazy(k, true);
    this.lazyRanges++;
  }

  /** All pages of the lazy range in row k go back to system memory (the runs hold none of them). */
  emptyWhole(k: number): void {
    const st = this.list.store;
    const idx = st.vgpu(k);
    this.resident[idx] = (this.resident[idx] ?? 0) - (st.last(k) - st.start(k) + 1);
    st.setLazy(k, false);
    this.lazyRanges--;
  }

  /** Writes the pages of the range in row k, if lazy, into the runs (before anything reads or changes part of them). */
  materialize(k: number): void {
    const st = this.list.store;
    if (!st.lazy(k)) return;
    st.setLazy(k, false);
    this.lazyRanges--;
    // The runs hold nothing in [start, last] (the range was lazy): the resident count is unchanged.
    this.runs.assign(st.start(k), st.last(k) + 1, st.vgpu(k));
  }

  /** Takes a replaced run's pages off its GPU's resident count. */
  private readonly unresident = (start: number, end: number, idx: number): void => {
    this.resident[idx] = (this.resident[idx] ?? 0) - (end - start);
  };

  /** True when the range in row k already has a BO on this GPU (no allocation needed to move pages there). */
  hasBoOn(k: number, g: SimGpu): boolean {
    const bo = this.list.boAt(k);
    return bo !== undefined && bo.gpu === g && bo.live;
  }

  /** svm_range_vram_node_new for the range in row k: it gets (or reuses) a BO on the GPU, which TTM moves to the LRU tail. */
  attachBo(k: number, g: SimGpu): void {
    const cur = this.list.boAt(k);
    if (cur && cur.gpu === g) {
      this.lruRemove(cur);
      this.lruAppend(cur);
      return;
    }
    if (cur) this.detachBo(k);
    const st = this.list.store;
    const start = st.start(k);
    const pages = st.last(k) - start + 1;
    let bo = this.freeBos.pop();
    if (bo) {
      bo.gpu = g;
      bo.one = start;
      bo.many = undefined;
      bo.pages = pages;
      bo.live = true;
    } else {
      const bos = this.list.bos;
      bo = { id: bos.length, gpu: g, one: start, many: undefined, pages, live: true, lruPrev: undefined, lruNext: undefined, inLru: false };
      bos.push(bo);
    }
    st.setBo(k, bo.id + 1);
    this.used[g.idx] = (this.used[g.idx] ?? 0) + pages;
    this.lruAppend(bo);
  }

  /** Puts a BO at the tail of its GPU's LRU (most recently used). */
  private lruAppend(bo: SvmBo): void {
    const l = this.lru[bo.gpu.idx]!;
    bo.lruPrev = l.tail;
    bo.lruNext = undefined;
    if (l.tail) l.tail.lruNext = bo;
    else l.head = bo;
    l.tail = bo;
    bo.inLru = true;
  }

  /** Takes a BO off its GPU's LRU, if it is on it. */
  private lruRemove(bo: SvmBo): void {
    if (!bo.inLru) return;
    const l = this.lru[bo.gpu.idx]!;
    if (bo.lruPrev) bo.lruPrev.lruNext = bo.lruNext;
    else l.head = bo.lruNext;
    if (bo.lruNext) bo.lruNext.lruPrev = bo.lruPrev;
    else l.tail = bo.lruPrev;
    bo.lruPrev = undefined;
    bo.lruNext = undefined;
    bo.inLru = false;
  }

  /** svm_range_vram_node_free: the range in row k lets go of its BO. */
  detachBo(k: number): void {
    const bo = this.list.boAt(k);
    if (!bo) return;
    const st = this.list.store;
    boDelete(bo, st.start(k));
    st.setBo(k, 0);
    this.dropBoIfIdle(bo);
  }

  /** A BO no range refers to any more is freed (svm_range_bo_release on the last reference). */
  dropBoIfIdle(bo: SvmBo | undefined): void {
    if (!bo || boSize(bo) !== 0 || !bo.live) return;
    bo.live = false;
    this.lruRemove(bo);
    this.used[bo.gpu.idx] = (this.used[bo.gpu.idx] ?? 0) - bo.pages;
    this.freeBos.push(bo);
  }

  /**
   * Freed BOs, reused by attachBo: a prefetch pass over 10^5 ranges made 10^5 BOs that lived until the pass
   * back, each promoted to the old generation, whose growth brought major GCs into the calls after. A freed
   * BO is referenced only by ranges already out of the list (garbage once the call that removed them ends;
   * nothing reads their `bo` after it has been dropped) and by no range in the list (dropBoIfIdle frees only
   * a BO whose range list is empty).
   */
  private readonly freeBos: SvmBo[] = [];

  /** The least recently used BO of a GPU other than `except`, taken off the LRU (TTM picks it to evict). */
  takeVictim(g: SimGpu, except: SvmBo | undefined): SvmBo | undefined {
    for (let bo = this.lru[g.idx]!.head; bo; bo = bo.lruNext) {
      if (bo === except) continue;
      this.lruRemove(bo);
      return bo;
    }
    return undefined;
  }

  /**
   * Where the mapped pages (`mapped`, the VMA runs of [a, b)) live, per run, in bytes. `lazy`: the lazy
   * ranges overlapping [a, b), in address order (their pages are in no run).
   */
  snapshot(mapped: ReadonlyArray<{ start: number; end: number }>, lazy: readonly SvmRange[] = []): SnapshotRun[] {
    const out: SnapshotRun[] = [];
    const push = (s: number, e: number, idx: number | undefined): void => {
      const g = idx === undefined ? undefined : this.gpus[idx];
      const location: PageLocation = !g ? 'system' : g.kind === 'coherent' ? 'device-coherent' : 'device-private';
      const prev = out[out.length - 1];
      const start = BigInt(s) << SHIFT;
      if (prev && prev.start + prev.size === start && prev.location === location && prev.gpuId === g?.gpuId) {
        prev.size += BigInt(e - s) << SHIFT;
        return;
      }
      const run: SnapshotRun = { start, size: BigInt(e - s) << SHIFT, location };
      if (g) run.gpuId = g.gpuId;
      out.push(run);
    };
    let li = 0;
    for (const vma of mapped) {
      // The runs and the lazy ranges within the VMA, merged by start (they never overlap).
      const runs = this.runs.runs(vma.start, vma.end);
      while (li < lazy.length && lazy[li]!.last + 1 <= vma.start) li++;
      for (let lj = li; lj < lazy.length && lazy[lj]!.start < vma.end; lj++) {
        const r = lazy[lj]!;
        runs.push({ start: Math.max(r.start, vma.start), end: Math.min(r.last + 1, vma.end), value: r.vramIdx });
      }
      if (li < lazy.length) runs.sort((x, y) => x.start - y.start);
      let p = vma.start;
      for (const run of runs) {
        if (run.start > p) push(p, run.start, undefined);
        push(run.start, run.end, run.value);
        p = run.end;
      }
      if (p < vma.end) push(p, vma.end, undefined);
    }
    return out;
  }
}
