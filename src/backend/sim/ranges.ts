/**
 * The process's SVM ranges (kfd_svm.c: struct svm_range in svms->objects): an interval tree of ranges
 * over page numbers, each with its attributes. Ranges are split when a SET covers part of one and are
 * never merged again, exactly as the driver does (there is no merge in kfd_svm.c), so the event stream
 * of a later prefetch (one migration per range and VMA) matches the kernel's.
 */
import { SvmAttrType, SvmFlag, SvmLocation } from '../abi.js';
import type { SvmAttribute } from '../contract.js';
import { IntervalMap } from './interval-map.js';
import type { SimGpu } from './devices.js';

/**
 * An svm_range_bo: the VRAM buffer svm_range_vram_node_new allocates for a whole range (prange->npages) the
 * first time any of its pages moves to a GPU, shared by the pieces of the range when it is split later.
 * It holds its VRAM until no range refers to it.
 */
export interface SvmBo {
  readonly gpu: SimGpu;
  readonly ranges: Set<SvmRange>;
  /** Its size in pages. */
  readonly pages: number;
  /** Still allocated (counted in the GPU's VRAM use). */
  live: boolean;
}

export interface SvmRange {
  /** First and last page, inclusive, as prange->start / prange->last. */
  start: number;
  last: number;
  preferredLoc: number;
  prefetchLoc: number;
  granularity: number;
  flags: number;
  /** bitmap_access / bitmap_aip over gpuidx. */
  access: number;
  aip: number;
  mappedToGpu: boolean;
  /** The VRAM BO holding this range's device pages, if any (prange->svm_bo). */
  bo: SvmBo | undefined;
}

export const npages = (r: SvmRange): number => r.last - r.start + 1;

/**
 * Every range is built by this one literal, so all have one hidden class with the fields in the object
 * (object spread gave ranges several shapes and an out-of-object property store: more memory, more misses).
 */
function makeRange(
  start: number,
  last: number,
  preferredLoc: number,
  prefetchLoc: number,
  granularity: number,
  flags: number,
  access: number,
  aip: number,
  mappedToGpu: boolean,
  bo: SvmBo | undefined,
): SvmRange {
  return { start, last, preferredLoc, prefetchLoc, granularity, flags, access, aip, mappedToGpu, bo };
}

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

  constructor(
    readonly defaultGranularity: number,
    /** max_svm_range_pages (svm_range_set_max_pages). */
    readonly maxPages: number,
  ) {}

  get size(): number {
    return this.tree.size;
  }

  /** svm_range_new: defaults, and with XNACK on access to every SVM-capable GPU. */
  create(start: number, last: number, accessAll: number): SvmRange {
    const d = defaultAttrs(this.defaultGranularity);
    return makeRange(start, last, d.preferredLoc, d.prefetchLoc, d.granularity, d.flags, accessAll, 0, false, undefined);
  }

  /** svm_range_clone (and the attribute copy of svm_range_split_adjust). It joins the BO when inserted. */
  clone(old: SvmRange, start = old.start, last = old.last): SvmRange {
    return makeRange(start, last, old.preferredLoc, old.prefetchLoc, old.granularity, old.flags, old.access, old.aip, old.mappedToGpu, old.bo);
  }

  insert(r: SvmRange): void {
    this.tree.insert(r.start, r.last + 1, r);
    if (r.bo) r.bo.ranges.add(r);
  }

  remove(r: SvmRange): void {
    this.tree.delete(r.start);
    if (r.bo) {
      r.bo.ranges.delete(r);
    }
  }

  at(page: number): SvmRange | undefined {
    return this.tree.valueAt(page);
  }

  /** The ranges overlapping [start, last], in address order. */
  overlapping(start: number, last: number): SvmRange[] {
    return this.tree.overlappingValues(start, last + 1);
  }

  all(): SvmRange[] {
    return this.tree.all().map((i) => i.value);
  }
}

/** kfd_svm.c: svm_range_is_same_attrs. */
export function isSameAttrs(r: SvmRange, attrs: readonly SvmAttribute[], gpuIdx: (gpuId: number) => number): boolean {
  for (const a of attrs) {
    switch (a.type) {
      case SvmAttrType.PREFERRED_LOC:
        if (r.preferredLoc !== a.value) return false;
        break;
      case SvmAttrType.PREFETCH_LOC:
        // "Prefetch should always trigger a migration even if the value of the attribute didn't change."
        return false;
      case SvmAttrType.ACCESS:
      case SvmAttrType.ACCESS_IN_PLACE:
      case SvmAttrType.NO_ACCESS: {
        const bit = 1 << gpuIdx(a.value);
        if (a.type === SvmAttrType.NO_ACCESS) {
          if (r.access & bit || r.aip & bit) return false;
        } else if (a.type === SvmAttrType.ACCESS) {
          if (!(r.access & bit)) return false;
        } else if (!(r.aip & bit)) return false;
        break;
      }
      case SvmAttrType.SET_FLAGS:
        if ((r.flags & a.value) >>> 0 !== a.value) return false;
        break;
      case SvmAttrType.CLR_FLAGS:
        if ((r.flags & a.value) !== 0) return false;
        break;
      case SvmAttrType.GRANULARITY:
        if (r.granularity !== a.value) return false;
        break;
    }
  }
  return true;
}

/**
 * kfd_svm.c: svm_range_apply_attrs. Returns whether GPU mappings must be updated (`update_mapping`).
 * Flags are stored as given (u32): bits above SVM_FLAGS_ALL are kept, as the kernel keeps them.
 */
export function applyAttrs(r: SvmRange, attrs: readonly SvmAttribute[], xnack: boolean, gpuIdx: (gpuId: number) => number): boolean {
  let updateMapping = false;
  for (const a of attrs) {
    switch (a.type) {
      case SvmAttrType.PREFERRED_LOC:
        r.preferredLoc = a.value;
        break;
      case SvmAttrType.PREFETCH_LOC:
        r.prefetchLoc = a.value;
        break;
      case SvmAttrType.ACCESS:
      case SvmAttrType.ACCESS_IN_PLACE:
      case SvmAttrType.NO_ACCESS: {
        if (!xnack) updateMapping = true;
        const bit = 1 << gpuIdx(a.value);
        // NO_ACCESS clears both bits; ACCESS sets access and clears in-place; ACCESS_IN_PLACE the reverse.
        if (a.type === SvmAttrType.NO_ACCESS) {
          r.access &= ~bit;
          r.aip &= ~bit;
        } else if (a.type === SvmAttrType.ACCESS) {
          r.access |= bit;
          r.aip &= ~bit;
        } else {
          r.access &= ~bit;
          r.aip |= bit;
        }
        break;
      }
      case SvmAttrType.SET_FLAGS:
        updateMapping = true;
        r.flags = (r.flags | a.value) >>> 0;
        break;
      case SvmAttrType.CLR_FLAGS:
        updateMapping = true;
        r.flags = (r.flags & ~a.value) >>> 0;
        break;
      case SvmAttrType.GRANULARITY:
        // min_t(uint32_t, value, 0x3F)
        r.granularity = Math.min(a.value, 0x3f);
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
const NONE: SvmRange[] = [];
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
  // The common case, one range exactly covering the span (then no other range overlaps it): updated in
  // place (or left alone), found with one lookup and no list of hits.
  const node = list.tree.exact(start, last + 1);
  if (node) {
    const update = isSameAttrs(node, attrs, gpuIdx) && node.mappedToGpu ? NONE : [node];
    return { update, insert: NONE, remove: NONE, remap: NONE, newPages: 0 };
  }
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
  for (const node of hit) {
    const nextStart = Math.min(node.last, last) + 1;
    if (isSameAttrs(node, attrs, gpuIdx) && node.mappedToGpu) {
      // nothing to do
    } else if (node.start < cur || node.last > last) {
      const clone = list.clone(node);
      remove.push(node);
      insert.push(clone);
      updateOrder.push(clone);
      if (node.start < cur) {
        // svm_range_split_head: the head [node.start, cur-1] keeps the old attributes.
        const lastAlignDown = alignDown(clone.last, HUGE);
        const startAlign = alignUp(clone.start, HUGE);
        const huge = lastAlignDown > startAlign;
        const head = list.clone(clone, clone.start, cur - 1);
        clone.start = cur;
        insert.push(head);
        if (huge && head.last + 1 > startAlign && head.last + 1 < lastAlignDown && head.last % HUGE !== 0) remap.push(head);
      }
      if (node.last > last) {
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
    if (node.start > cur) splitNew(cur, node.start - 1);
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

/**
 * kfd_svm.c: svm_range_get_attr's walk. Only the ranges present in the span count: holes between them are
 * not visited (the kernel iterates the interval tree), so a span half covered by one range answers with
 * that range's attributes. With no range at all the process defaults answer, and access then depends on
 * XNACK (every SVM-capable GPU with XNACK on, none with it off).
 */
export function aggregate(
  ranges: readonly SvmRange[],
  wanted: { preferred: boolean; prefetch: boolean; access: boolean; flags: boolean; granularity: boolean },
  supported: number,
  xnack: boolean,
  defaultGranularity: number,
): GetAnswer {
  if (ranges.length === 0) {
    const d = defaultAttrs(defaultGranularity);
    return {
      location: d.preferredLoc,
      prefetchLoc: d.prefetchLoc,
      granularity: d.granularity,
      flagsAnd: d.flags,
      flagsOr: d.flags,
      access: xnack ? supported : 0,
      aip: 0,
    };
  }
  const U = SvmLocation.UNDEFINED;
  let location: number = U;
  let prefetchLoc: number = U;
  let granularity = 0xff;
  let flagsAnd = 0xffffffff;
  let flagsOr = 0;
  let access = supported;
  let aip = supported;
  let getPreferred = wanted.preferred;
  let getPrefetch = wanted.prefetch;
  for (const r of ranges) {
    if (getPreferred) {
      if (r.preferredLoc === U || (location !== U && location !== r.preferredLoc)) {
        location = U;
        getPreferred = false;
      } else location = r.preferredLoc;
    }
    if (getPrefetch) {
      if (r.prefetchLoc === U || (prefetchLoc !== U && prefetchLoc !== r.prefetchLoc)) {
        prefetchLoc = U;
        getPrefetch = false;
      } else prefetchLoc = r.prefetchLoc;
    }
    if (wanted.access) {
      access &= r.access;
      aip &= r.aip;
    }
    if (wanted.flags) {
      flagsAnd = (flagsAnd & r.flags) >>> 0;
      flagsOr = (flagsOr | r.flags) >>> 0;
    }
    if (wanted.granularity && r.granularity < granularity) granularity = r.granularity;
  }
  return { location, prefetchLoc, granularity, flagsAnd, flagsOr, access, aip };
}
