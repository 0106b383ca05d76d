/**
 * Where pages live and what holds them: runs of pages resident in a GPU's VRAM (every other mapped page is
 * in system memory), and the SVM BOs (svm_range_bo, records in bo-table.ts) that hold VRAM, in the TTM
 * LRU of each VRAM pool. A GPU's VRAM use is the size of its live BOs, as in the kernel (a BO is as large as
 * the range it was made for, however few of its pages have moved); a pool is full when the BOs of all its
 * GPUs fill it. Pure bookkeeping: the migrations that move pages are in process.ts.
 */
import { PAGE_SHIFT } from '../abi.js';
import type { SimGpu } from './devices.js';
import { RunMap } from './interval-map.js';
import type { RangeList, SvmRange } from './ranges.js';

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
  /** Pages of live BOs per VRAM pool (SimGpu.memPool: a memory partition's XCPs share one). */
  private readonly poolUsed: number[];
  /** Pages resident per GPU. */
  private readonly resident: number[];

  /**
   * The migrations work on a range's row (slot k of `list.store`), not its object: a slot is valid until
   * the next insert or remove of the list, which no Residency call makes.
   */
  constructor(
    private readonly gpus: readonly SimGpu[],
    private readonly list: RangeList,
  ) {
    this.used = gpus.map(() => 0);
    this.poolUsed = gpus.map(() => 0);
    this.resident = gpus.map(() => 0);
  }

  /** VRAM pages allocated to SVM BOs on a GPU. */
  usedPages(g: SimGpu): number {
    return this.used[g.idx] ?? 0;
  }

  /** Pages that live in a GPU's VRAM (at most usedPages). */
  residentPages(g: SimGpu): number {
    return this.resident[g.idx] ?? 0;
  }

  /**
   * Pages a new BO on this GPU can have without an eviction: what its VRAM pool has left (TTM places and
   * evicts within the pool; for an unpartitioned GPU that is its own VRAM).
   */
  freePages(g: SimGpu): number {
    return g.memPoolPages - (this.poolUsed[g.memPool] ?? 0);
  }

  /** prange->actual_loc of the range in row k: the gpu_id holding its VRAM pages, or 0 (from its own count). */
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
    return bo >= 0 && this.list.bos.gpu(bo) === g.idx && this.list.bos.live(bo);
  }

  /**
   * svm_range_vram_node_new for the range in row k: it gets (or reuses) a BO on the GPU, which TTM moves to
   * the tail of its pool's LRU.
   */
  attachBo(k: number, g: SimGpu): void {
    const bos = this.list.bos;
    const cur = this.list.boAt(k);
    if (cur >= 0 && bos.gpu(cur) === g.idx) {
      bos.lruRemove(cur);
      bos.lruAppend(cur);
      return;
    }
    if (cur >= 0) this.detachBo(k);
    const st = this.list.store;
    const start = st.start(k);
    const pages = st.last(k) - start + 1;
    const bo = bos.alloc(g.idx, pages, start);
    st.setBo(k, bo + 1);
    this.used[g.idx] = (this.used[g.idx] ?? 0) + pages;
    this.poolUsed[g.memPool] = (this.poolUsed[g.memPool] ?? 0) + pages;
    bos.lruAppend(bo);
  }

  /** svm_range_vram_node_free: the range in row k lets go of its BO. */
  detachBo(k: number): void {
    const bo = this.list.boAt(k);
    if (bo < 0) return;
    const st = this.list.store;
    this.list.bos.deleteMember(bo, st.start(k));
    st.setBo(k, 0);
    this.dropBoIfIdle(bo);
  }

  /**
   * A BO (id, or -1 for none) no range refers to any more is freed (svm_range_bo_release on the last
   * reference). A freed id is referred to only by ranges already out of the list (garbage once the call that
   * removed them ends; nothing reads their BO after it has been dropped) and by no range in the list (only a
   * BO whose range list is empty is freed).
   */
  dropBoIfIdle(bo: number): void {
    const bos = this.list.bos;
    if (bo < 0 || bos.memberCount(bo) !== 0 || !bos.live(bo)) return;
    bos.lruRemove(bo);
    const g = this.gpus[bos.gpu(bo)]!;
    const pages = bos.pages(bo);
    this.used[g.idx] = (this.used[g.idx] ?? 0) - pages;
    this.poolUsed[g.memPool] = (this.poolUsed[g.memPool] ?? 0) - pages;
    bos.free(bo);
  }

  /**
   * The least recently used BO other than `except` (id or -1) in the VRAM pool a new BO on this GPU goes
   * to, taken off the LRU (TTM picks it to evict); -1 if none. It may be a BO of another XCP of the pool.
   */
  takeVictim(g: SimGpu, except: number): number {
    return this.list.bos.takeVictim(g.memPool, except);
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
