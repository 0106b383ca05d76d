/**
 * The process's SVM ranges (kfd_svm.c: struct svm_range in svms->objects): an interval tree of ranges
 * over page numbers, each with its attributes. Ranges are split when a SET covers part of one and are
 * never merged again, exactly as the driver does (there is no merge in kfd_svm.c), so the event stream
 * of a later prefetch (one migration per range and VMA) matches the kernel's.
 */
import { SvmAttrType, SvmFlag, SvmLocation } from '../abi.js';
import type { SvmAttribute } from '../contract.js';
import { IntervalMap } from './interval-map.js';
import {
  I_ACCESS,
  I_AIP,
  I_BO,
  I_GRAN,
  I_MAPPED,
  I_VGPU,
  I_VRAM,
  RangeStore,
  ROW_WORDS,
  U_FLAGS,
  U_PREF,
  U_PREFETCH,
} from './range-store.js';
import type { BoTable } from './bo-table.js';

/** The store of the ranges in a list: their rows, and the hash index of their first pages. */
export type Store = RangeStore<SvmRange>;

/** A range's attributes while it is not in a list. */
interface Detached {
  start: number;
  last: number;
  preferredLoc: number;
  prefetchLoc: number;
  granularity: number;
  flags: number;
  access: number;
  aip: number;
  mappedToGpu: boolean;
  vramPages: number;
  vramIdx: number;
  /** prange->svm_bo as a row stores it: id + 1, 0 for none. */
  boRef: number;
}

/**
 * One svm_range. While it is in a RangeList (attached) its attributes live in the list's store, in the row
 * of `slot`, so a hot call reads one row and not this object; while it is not (a clone being prepared, or a
 * range just removed, which callers may still read) they live in a Detached object of its own. The
 * accessors hide which. They only read: the model changes a range in the list through its row
 * (applyAttrs, the RangeStore setters), and a detached one gets its attributes when it is made.
 */
export class SvmRange {
  /** Its row in the store while it is in the list, else -1 (the store updates it when the row moves). */
  slot = -1;
  private d: Detached | undefined;

  constructor(
    private readonly store: Store,
    start: number,
    last: number,
    preferredLoc: number,
    prefetchLoc: number,
    granularity: number,
    flags: number,
    access: number,
    aip: number,
    mappedToGpu: boolean,
    boRef: number,
  ) {
    // Its VRAM pages are counted from the residency runs when it joins a list (KfdProcess.insertRange).
    this.d = { start, last, preferredLoc, prefetchLoc, granularity, flags, access, aip, mappedToGpu, vramPages: 0, vramIdx: 0, boRef };
  }

  /** Moves the attributes into a new row of the store (the range joins the list). */
  attach(): void {
    const d = this.d;
    if (!d) throw new Error('internal: range already in the list');
    const st = this.store;
    const k = st.alloc(this, d.start, d.last);
    const w = k * ROW_WORDS;
    st.u32[w + U_PREF] = d.preferredLoc;
    st.u32[w + U_PREFETCH] = d.prefetchLoc;
    st.u32[w + U_FLAGS] = d.flags;
    st.i32[w + I_GRAN] = d.granularity;
    st.i32[w + I_ACCESS] = d.access;
    st.i32[w + I_AIP] = d.aip;
    st.i32[w + I_MAPPED] = d.mappedToGpu ? 1 : 0;
    st.i32[w + I_VRAM] = d.vramPages;
    st.i32[w + I_VGPU] = d.vramIdx;
    st.i32[w + I_BO] = d.boRef;
    this.slot = k;
    this.d = undefined;
  }

  /** Takes the attributes back from the store and frees the row (the range left the list). */
  detach(): void {
    const k = this.slot;
    if (k < 0) throw new Error('internal: range not in the list');
    this.d = {
      start: this.start,
      last: this.last,
      preferredLoc: this.preferredLoc,
      prefetchLoc: this.prefetchLoc,
      granularity: this.granularity,
      flags: this.flags,
      access: this.access,
      aip: this.aip,
      mappedToGpu: this.mappedToGpu,
      vramPages: this.vramPages,
      vramIdx: this.vramIdx,
      boRef: this.boRef,
    };
    this.slot = -1;
    this.store.release(k);
  }

  /** First and last page, inclusive, as prange->start / prange->last. Fixed while in the list (its keys). */
  get start(): number {
    return this.d ? this.d.start : this.store.start(this.slot);
  }
  set start(v: number) {
    if (!this.d) throw new Error('internal: moving a range that is in the list');
    this.d.start = v;
  }
  get last(): number {
    return this.d ? this.d.last : this.store.last(this.slot);
  }
  set last(v: number) {
    if (!this.d) throw new Error('internal: moving a range that is in the list');
    this.d.last = v;
  }
  get preferredLoc(): number {
    return this.d ? this.d.preferredLoc : this.store.pref(this.slot);
  }
  get prefetchLoc(): number {
    return this.d ? this.d.prefetchLoc : this.store.prefetch(this.slot);
  }
  get granularity(): number {
    return this.d ? this.d.granularity : this.store.gran(this.slot);
  }
  get flags(): number {
    return this.d ? this.d.flags : this.store.flags(this.slot);
  }
  /** bitmap_access / bitmap_aip over gpuidx. */
  get access(): number {
    return this.d ? this.d.access : this.store.access(this.slot);
  }
  get aip(): number {
    return this.d ? this.d.aip : this.store.aip(this.slot);
  }
  get mappedToGpu(): boolean {
    return this.d ? this.d.mappedToGpu : this.store.mapped(this.slot);
  }
  /**
   * prange->vram_pages: its pages in VRAM, all on the GPU of index vramIdx (prange->actual_loc; a range's
   * VRAM pages are on one GPU: svm_migrate_to_vram moves them all to RAM before going to another). The
   * residency runs are the truth page by page; the migrations keep these two in step with them.
   */
  get vramPages(): number {
    return this.d ? this.d.vramPages : this.store.vram(this.slot);
  }
  get vramIdx(): number {
    return this.d ? this.d.vramIdx : this.store.vgpu(this.slot);
  }
  /** prange->svm_bo as id + 1 in RangeList.bos, 0 for none (RangeList.boOf resolves it). */
  get boRef(): number {
    return this.d ? this.d.boRef : this.store.bo(this.slot);
  }
  /**
   * True when its pages are all in VRAM and kept by this flag instead of the residency runs (see
   * Residency.fillWhole). Only a range in the list can be: one leaves the list with its pages written to
   * the runs (KfdProcess.removeRange), and joins it with the flag clear (a new row is zeroed).
   */
  get lazy(): boolean {
    return this.d ? false : this.store.lazy(this.slot);
  }
}

export const npages = (r: SvmRange): number => r.last - r.start + 1;

/** kfd_svm.c: svm_range_set_default_attributes. */
export function defaultAttrs(defaultGranularity: number): Pick<SvmRange, 'preferredLoc' | 'prefetchLoc' | 'granularity' | 'flags'> {
  return {
    preferredLoc: SvmLocation.UNDEFINED,
    prefetchLoc: SvmLocation.UNDEFINED,
    granularity: defaultGranularity,
    flags: SvmFlag.HOST_ACCESS | SvmFlag.COHERENT,
  };
}

export class RangeList {
  readonly tree = new IntervalMap<SvmRange>();
  /** The rows of the ranges in the list, and which range starts at a page. */
  readonly store: Store = new RangeStore<SvmRange>();

  constructor(
    readonly defaultGranularity: number,
    /** max_svm_range_pages (svm_range_set_max_pages). */
    readonly maxPages: number,
    /** The process's BOs (Residency makes and frees them; rows refer to them as id + 1). */
    readonly bos: BoTable,
  ) {}

  get size(): number {
    return this.tree.size;
  }

  /** svm_range_new: defaults, and with XNACK on access to every SVM-capable GPU. */
  create(start: number, last: number, accessAll: number): SvmRange {
    const d = defaultAttrs(this.defaultGranularity);
    return new SvmRange(this.store, start, last, d.preferredLoc, d.prefetchLoc, d.granularity, d.flags, accessAll, 0, false, 0);
  }

  /** svm_range_clone (and the attribute copy of svm_range_split_adjust). It joins the BO when inserted. */
  clone(old: SvmRange, start = old.start, last = old.last): SvmRange {
    return new SvmRange(this.store, start, last, old.preferredLoc, old.prefetchLoc, old.granularity, old.flags, old.access, old.aip, old.mappedToGpu, old.boRef);
  }

  insert(r: SvmRange): void {
    this.tree.insert(r.start, r.last + 1, r);
    r.attach();
    const bo = this.boOf(r);
    if (bo >= 0) this.bos.addMember(bo, r.start);
  }

  remove(r: SvmRange): void {
    const start = r.start;
    this.tree.delete(start);
    r.detach();
    const bo = this.boOf(r);
    if (bo >= 0) this.bos.deleteMember(bo, start);
  }

  /** prange->svm_bo of a range, in the list or not: its id, or -1. */
  boOf(r: SvmRange): number {
    return r.boRef - 1;
  }

  /** prange->svm_bo of the range in row k: its id, or -1. */
  boAt(k: number): number {
    return this.store.bo(k) - 1;
  }

  /** The rows of the ranges on a BO's range list, in its order (a copy: callers change the list). */
  slotsOf(bo: number): number[] {
    return this.bos.members(bo).map((s) => {
      const k = this.store.find(s);
      if (k < 0) throw new Error(`internal: BO ${bo} lists page ${s}, where no range starts`);
      return k;
    });
  }

  /** The range holding `page`: the hash index answers when the range starts there, the tree otherwise. */
  at(page: number): SvmRange | undefined {
    const k = this.store.find(page);
    if (k >= 0) return this.store.objs[k];
    return this.tree.valueAt(page);
  }

  /** The slot of the range that is exactly [start, last], or -1 (one hash lookup, no tree descent). */
  exactSlot(start: number, last: number): number {
    return this.store.exact(start, last);
  }

  /** The ranges overlapping [start, last], in address order. */
  overlapping(start: number, last: number): SvmRange[] {
    return this.tree.overlappingValues(start, last + 1);
  }

  all(): SvmRange[] {
    return this.tree.all().map((i) => i.value);
  }
}

/** kfd_svm.c: svm_range_is_same_attrs, on the row of a range in the list. */
export function isSameAttrs(st: Store, k: number, attrs: readonly SvmAttribute[], gpuIdx: (gpuId: number) => number): boolean {
  const w = k * ROW_WORDS;
  for (const a of attrs) {
    switch (a.type) {
      case SvmAttrType.PREFERRED_LOC:
        if (st.u32[w + U_PREF] !== a.value) return false;
        break;
      case SvmAttrType.PREFETCH_LOC:
        // "Prefetch should always trigger a migration even if the value of the attribute didn't change."
        return false;
      case SvmAttrType.ACCESS:
      case SvmAttrType.ACCESS_IN_PLACE:
      case SvmAttrType.NO_ACCESS: {
        const bit = 1 << gpuIdx(a.value);
        const access = st.i32[w + I_ACCESS]!;
        const aip = st.i32[w + I_AIP]!;
        if (a.type === SvmAttrType.NO_ACCESS) {
          if (access & bit || aip & bit) return false;
        } else if (a.type === SvmAttrType.ACCESS) {
          if (!(access & bit)) return false;
        } else if (!(aip & bit)) return false;
        break;
      }
      case SvmAttrType.SET_FLAGS:
        if ((st.u32[w + U_FLAGS]! & a.value) >>> 0 !== a.value) return false;
        break;
      case SvmAttrType.CLR_FLAGS:
        if ((st.u32[w + U_FLAGS]! & a.value) !== 0) return false;
        break;
      case SvmAttrType.GRANULARITY:
        if (st.i32[w + I_GRAN] !== a.value) return false;
        break;
    }
  }
  return true;
}


/**
 * kfd_svm.c: svm_range_apply_attrs, on the row of a range in the list. Returns whether GPU mappings must be
 * updated (`update_mapping`). Flags are stored as given (u32): bits above SVM_FLAGS_ALL are kept, as the
 * kernel keeps them.
 */
export function applyAttrs(st: Store, k: number, attrs: readonly SvmAttribute[], xnack: boolean, gpuIdx: (gpuId: number) => number): boolean {
  const w = k * ROW_WORDS;
  let updateMapping = false;
  for (const a of attrs) {
    switch (a.type) {
      case SvmAttrType.PREFERRED_LOC:
        st.u32[w + U_PREF] = a.value;
        break;
      case SvmAttrType.PREFETCH_LOC:
        st.u32[w + U_PREFETCH] = a.value;
        break;
      case SvmAttrType.ACCESS:
      case SvmAttrType.ACCESS_IN_PLACE:
      case SvmAttrType.NO_ACCESS: {
        if (!xnack) updateMapping = true;
        const bit = 1 << gpuIdx(a.value);
        // NO_ACCESS clears both bits; ACCESS sets access and clears in-place; ACCESS_IN_PLACE the reverse.
        const access = st.i32[w + I_ACCESS]!;
        const aip = st.i32[w + I_AIP]!;
        if (a.type === SvmAttrType.NO_ACCESS) {
          st.i32[w + I_ACCESS] = access & ~bit;
          st.i32[w + I_AIP] = aip & ~bit;
        } else if (a.type === SvmAttrType.ACCESS) {
          st.i32[w + I_ACCESS] = access | bit;
          st.i32[w + I_AIP] = aip & ~bit;
        } else {
          st.i32[w + I_ACCESS] = access & ~bit;
          st.i32[w + I_AIP] = aip | bit;
        }
        break;
      }
      case SvmAttrType.SET_FLAGS:
        updateMapping = true;
        st.u32[w + U_FLAGS] = (st.u32[w + U_FLAGS]! | a.value) >>> 0;
        break;
      case SvmAttrType.CLR_FLAGS:
        updateMapping = true;
        st.u32[w + U_FLAGS] = (st.u32[w + U_FLAGS]! & ~a.value) >>> 0;
        break;
      case SvmAttrType.GRANULARITY:
        // min_t(uint32_t, value, 0x3F)
        st.i32[w + I_GRAN] = Math.min(a.value, 0x3f);
        break;
    }
  }
  return updateMapping;
}

export interface AddPlan {
  /** Ranges whose attributes change, in the kernel's update_list order (list_add puts each at the head). */
  update: SvmRange[];
  /** New ranges and clones to insert. */
  insert: SvmRange[];
  /** Originals replaced by their clones. */
  remove: SvmRange[];
  /** Split pieces whose huge-page mapping must be redone (remap_list). */
  remap: SvmRange[];
  /** Pages of the new ranges made for holes (svm_range_new with update_mem_usage). */
  newPages: number;
}

const HUGE = 512;
const alignDown = (v: number, a: number): number => v - (v % a);
const alignUp = (v: number, a: number): number => alignDown(v + a - 1, a);

/**
 * kfd_svm.c: svm_range_add. Plans the change without touching the tree (the kernel clones the ranges it
 * changes so the update is a transaction): partially covered ranges are cloned and split, holes are
 * filled with new ranges cut at max_svm_range_pages (svm_range_split_new), and a range that already has
 * the attributes and is mapped to a GPU is left alone.
 */
export function planAdd(
  list: RangeList,
  start: number,
  size: number,
  attrs: readonly SvmAttribute[],
  accessAll: number,
  gpuIdx: (gpuId: number) => number,
): AddPlan {
  const last = start + size - 1;
  // (One range exactly covering the span is the caller's fast path, KfdProcess.setExact; the walk below
  // gives the same plan for it: an update list of that range alone, or none.)
  const hit = list.overlapping(start, last);
  // Kept in insertion order; reversed at the end to give list_add's head-first order.
  const updateOrder: SvmRange[] = [];
  const insert: SvmRange[] = [];
  const remove: SvmRange[] = [];
  const remap: SvmRange[] = [];
  const newList: SvmRange[] = [];

  const splitNew = (s: number, l: number): void => {
    const max = list.maxPages;
    while (l >= s) {
      const e = Math.min(l, alignDown(s + max, max) - 1);
      const r = list.create(s, e, accessAll);
      newList.push(r);
      updateOrder.push(r);
      s = e + 1;
    }
  };

  let cur = start;
  const st = list.store;
  for (const node of hit) {
    // The node is in the list: its bounds and attributes are read from its row, once.
    const k = node.slot;
    const nodeStart = st.start(k);
    const nodeLast = st.last(k);
    const nextStart = Math.min(nodeLast, last) + 1;
    if (isSameAttrs(st, k, attrs, gpuIdx) && st.mapped(k)) {
      // nothing to do
    } else if (nodeStart < cur || nodeLast > last) {
      const clone = list.clone(node);
      remove.push(node);
      insert.push(clone);
      updateOrder.push(clone);
      if (nodeStart < cur) {
        // svm_range_split_head: the head [node.start, cur-1] keeps the old attributes.
        const lastAlignDown = alignDown(clone.last, HUGE);
        const startAlign = alignUp(clone.start, HUGE);
        const huge = lastAlignDown > startAlign;
        const head = list.clone(clone, clone.start, cur - 1);
        clone.start = cur;
        insert.push(head);
        if (huge && head.last + 1 > startAlign && head.last + 1 < lastAlignDown && head.last % HUGE !== 0) remap.push(head);
      }
      if (nodeLast > last) {
        // svm_range_split_tail: the tail [last+1, node.last] keeps the old attributes.
        const lastAlignDown = alignDown(clone.last, HUGE);
        const startAlign = alignUp(clone.start, HUGE);
        const huge = lastAlignDown > startAlign;
        const tail = list.clone(clone, last + 1, clone.last);
        clone.last = last;
        insert.push(tail);
        if (huge && tail.start > startAlign && tail.start < lastAlignDown && tail.start % HUGE !== 0) remap.push(tail);
      }
    } else {
      updateOrder.push(node);
    }
    if (nodeStart > cur) splitNew(cur, nodeStart - 1);
    cur = nextStart;
  }
  if (cur <= last) splitNew(cur, last);
  let newPages = 0;
  for (const r of newList) newPages += npages(r);
  return { update: updateOrder.reverse(), insert: [...insert, ...newList], remove, remap, newPages };
}

/** The answers of svm_range_get_attr, before they are written into the attribute array. */
export interface GetAnswer {
  location: number;
  prefetchLoc: number;
  granularity: number;
  flagsAnd: number;
  flagsOr: number;
  access: number;
  aip: number;
}

/** What a GET asks for (bits of `wanted` in aggregate). */
export const WANT_PREFERRED = 1;
export const WANT_PREFETCH = 2;
export const WANT_ACCESS = 4;
export const WANT_FLAGS = 8;
export const WANT_GRANULARITY = 16;

/**
 * kfd_svm.c: svm_range_get_attr's walk, over the rows `slots[0..n)` of the ranges in the span, in address
 * order, into `out` (reused by the caller: a GET allocates no answer object of its own). Only the ranges
 * present in the span count: holes between them are not visited (the kernel iterates the interval tree),
 * so a span half covered by one range answers with that range's attributes. With no range at all the
 * process defaults answer, and access then depends on XNACK (every SVM-capable GPU with XNACK on, none
 * with it off).
 */
export function aggregate(
  st: Store,
  slots: ArrayLike<number>,
  n: number,
  wanted: number,
  supported: number,
  xnack: boolean,
  defaultGranularity: number,
  out: GetAnswer,
): void {
  if (n === 0) {
    const d = defaultAttrs(defaultGranularity);
    out.location = d.preferredLoc;
    out.prefetchLoc = d.prefetchLoc;
    out.granularity = d.granularity;
    out.flagsAnd = d.flags;
    out.flagsOr = d.flags;
    out.access = xnack ? supported : 0;
    out.aip = 0;
    return;
  }
  const U = SvmLocation.UNDEFINED;
  let location: number = U;
  let prefetchLoc: number = U;
  let granularity = 0xff;
  let flagsAnd = 0xffffffff;
  let flagsOr = 0;
  let access = supported;
  let aip = supported;
  let getPreferred = (wanted & WANT_PREFERRED) !== 0;
  let getPrefetch = (wanted & WANT_PREFETCH) !== 0;
  const getAccess = (wanted & WANT_ACCESS) !== 0;
  const getFlags = (wanted & WANT_FLAGS) !== 0;
  const getGranularity = (wanted & WANT_GRANULARITY) !== 0;
  const u32 = st.u32;
  const i32 = st.i32;
  for (let j = 0; j < n; j++) {
    const w = slots[j]! * ROW_WORDS;
    if (getPreferred) {
      const pref = u32[w + U_PREF]!;
      if (pref === U || (location !== U && location !== pref)) {
        location = U;
        getPreferred = false;
      } else location = pref;
    }
    if (getPrefetch) {
      const pf = u32[w + U_PREFETCH]!;
      if (pf === U || (prefetchLoc !== U && prefetchLoc !== pf)) {
        prefetchLoc = U;
        getPrefetch = false;
      } else prefetchLoc = pf;
    }
    if (getAccess) {
      access &= i32[w + I_ACCESS]!;
      aip &= i32[w + I_AIP]!;
    }
    if (getFlags) {
      const f = u32[w + U_FLAGS]!;
      flagsAnd = (flagsAnd & f) >>> 0;
      flagsOr = (flagsOr | f) >>> 0;
    }
    if (getGranularity) {
      const g = i32[w + I_GRAN]!;
      if (g < granularity) granularity = g;
    }
  }
  out.location = location;
  out.prefetchLoc = prefetchLoc;
  out.granularity = granularity;
  out.flagsAnd = flagsAnd;
  out.flagsOr = flagsOr;
  out.access = access;
  out.aip = aip;
}
