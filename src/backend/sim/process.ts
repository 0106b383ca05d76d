/**
 * One KFD process of the model: its SVM ranges, where their pages live, what each GPU has mapped, the XNACK
 * mode, and the ioctls' semantics (kfd_chardev.c, kfd_svm.c, kfd_migrate.c). Each kernel function the
 * model follows is named where it is ported; the ports keep the kernel's order of checks and of events.
 *
 * Every call runs to completion before it returns, which is what svms->lock and process_info->lock give
 * the kernel: two SVM calls of one process never interleave.
 */
import {
  Errno,
  MigrateTrigger,
  PAGE_SHIFT,
  PAGE_SIZE,
  QueueEvictionTrigger,
  SmiEvent,
  SvmAttrType,
  SvmFlag,
  SvmLocation,
  UnmapTrigger,
} from '../abi.js';
import type { SvmAttribute } from '../contract.js';
import type { MachineProfile } from '../../platform/profile-types.js';
import { AddressSpace } from './address-space.js';
import { BoTable } from './bo-table.js';
import { buildGpus, hmmPageStructBytes, maxSvmRangePages, sameHive, systemMemLimit, type SimGpu } from './devices.js';
import { RunMap } from './interval-map.js';
import { Residency, type SnapshotRun } from './residency.js';
import {
  aggregate,
  applyAttrs,
  isSameAttrs,
  planAdd,
  RangeList,
  WANT_ACCESS,
  WANT_FLAGS,
  WANT_GRANULARITY,
  WANT_PREFERRED,
  WANT_PREFETCH,
  type GetAnswer,
  type Store,
  type SvmRange,
} from './ranges.js';
import { SmiHub, smiFormat } from './smi.js';

/** A kernel refusal inside the model: a positive errno and an optional detail. */
export class ModelError extends Error {
  constructor(readonly errno: number, detail: string) {
    super(detail);
  }
}

export interface SimCounters {
  /** Completed page migrations (one per migrate_vma call that moved pages, i.e. per MIGRATE_END). */
  migrations: number;
  faults: {
    /** CPU faults on device-private pages (svm_migrate_to_ram). */
    cpu: number;
    /** Recoverable GPU faults handled (svm_range_restore_pages with XNACK on). */
    gpu: number;
    /** GPU accesses that ended in a VM fault (no mapping and no recovery). */
    vm: number;
  };
  bytesMoved: { toDevice: number; toSystem: number };
  /** svm_range_bo evictions by TTM when VRAM was full. */
  evictions: number;
  /** Times the process's queues were stopped (QUEUE_EVICTION rounds). */
  queueEvictions: number;
}

export type { PageLocation, SnapshotRun } from './residency.js';

export interface ProcessOptions {
  pid: number;
  taskName: string;
  root: boolean;
  clockStartNs: number;
  maxBackedBytes: number;
  defaultGranularity: number;
}

const U = SvmLocation.UNDEFINED;
const ALL_GPUS = -1;
const SHIFT = BigInt(PAGE_SHIFT);
const PAGE_MASK = BigInt(PAGE_SIZE - 1);
const U64_MAX = (1n << 64n) - 1n;
const pow2 = (n: number): number => 2 ** n;

const TWO53 = 2n ** 53n;

/** The one-row list a GET of a single whole range aggregates over (no array per call). */
const ONE_SLOT = [0];

/**
 * kfd_migrate.c: svm_migrate_to_ram / svm_range_restore_pages: the granule around `page`, clipped to the
 * range in row k.
 */
function granule(st: Store, page: number, k: number): { s: number; l: number } {
  const g = st.gran(k);
  const rs = st.start(k);
  const rl = st.last(k);
  if (g >= 52) return { s: rs, l: rl }; // 1 << g covers every user page
  const size = pow2(g);
  const down = page - (page % size);
  return { s: Math.max(down, rs), l: Math.min(down + size - 1, rl) };
}

export class KfdProcess {
  readonly gpus: SimGpu[];
  /** svms->bitmap_supported. */
  readonly supported: number;
  xnack: boolean;
  private readonly vms = new Set<number>();
  private readonly queues = new Map<number, number>();
  private nextQueue = 1;
  readonly ranges: RangeList;
  /** Where pages live, VRAM use and the BOs in each GPU's LRU. */
  readonly mem: Residency;
  /** Per GPU: the pages its page table maps (valid PTEs). */
  readonly gpuMaps: RunMap<boolean>[];
  readonly space: AddressSpace;
  readonly smi = new SmiHub();
  private clockNs: number;
  readonly counters: SimCounters = {
    migrations: 0,
    faults: { cpu: 0, gpu: 0, vm: 0 },
    bytesMoved: { toDevice: 0, toSystem: 0 },
    evictions: 0,
    queueEvictions: 0,
  };
  /** Ranges invalidated while the queues were stopped (prange->invalid), restored by restoreWork. */
  private readonly invalid = new Set<SvmRange>();
  private quiesced = false;
  /** kfd_mem_limit.system_mem_used / max_system_mem_limit, in bytes. */
  private sysMemUsed: number;
  private readonly sysMemLimit: number;
  /** Pages covered by SVM ranges (what switching XNACK off must reserve). */
  private rangedPages = 0;

  constructor(readonly profile: MachineProfile, readonly opts: ProcessOptions) {
    this.gpus = buildGpus(profile);
    let supported = 0;
    for (const g of this.gpus) if (g.svmSupported) supported |= 1 << g.idx;
    this.supported = supported;
    this.xnack = profile.xnackDefault;
    // svm_range_list_init: default_granularity = min(amdgpu_svm_default_granularity, 0x1B).
    this.ranges = new RangeList(Math.min(opts.defaultGranularity, 0x1b), maxSvmRangePages(this.gpus), new BoTable(this.gpus.map((g) => g.memPool)));
    this.mem = new Residency(this.gpus, this.ranges);
    this.gpuMaps = this.gpus.map(() => new RunMap<boolean>());
    this.space = new AddressSpace(
      opts.maxBackedBytes,
      (s, e) => this.unmapFromCpu(s, e),
      (s, e) => void this.cpuAccess(s, e),
    );
    this.clockNs = opts.clockStartNs;
    this.sysMemLimit = systemMemLimit(profile);
    this.sysMemUsed = hmmPageStructBytes(this.gpus);
  }

  // ---------------------------------------------------------------- lookups, clock, events

  /** The GPU of a gpu_id (unique per machine: buildGpus refuses duplicates). */
  gpu(gpuId: number): SimGpu | undefined {
    // A scan of at most SIM_MAX_GPUS entries, cheaper than a Map lookup for the handful a machine has
    // (it runs several times per migration).
    const gpus = this.gpus;
    for (let i = 0; i < gpus.length; i++) if (gpus[i]!.gpuId === gpuId) return gpus[i];
    return undefined;
  }

  /** kfd_process_gpuidx_from_gpuid: -1 when the process has no such device. */
  gpuIdx(gpuId: number): number {
    return this.gpu(gpuId)?.idx ?? -1;
  }

  private readonly idxOf = (gpuId: number): number => this.gpuIdx(gpuId);

  get clock(): bigint {
    return BigInt(Math.round(this.clockNs));
  }

  /** Sim time a migration of `pages` over the GPU's host link costs. */
  private spend(g: SimGpu, pages: number): void {
    const link = g.desc.hostLink;
    this.clockNs += link.latencyNs + ((pages * PAGE_SIZE) / link.bandwidthBytesPerSecond) * 1e9;
  }

  /** True when some SMI client listens on the GPU; callers skip building event text otherwise. */
  private heard(g: SimGpu): boolean {
    return this.smi.listening(g.gpuId);
  }

  private emit(g: SimGpu, event: number, body: (ns: bigint) => string): void {
    this.smi.emit(g.gpuId, this.opts.pid, event, body(this.clock));
  }

  /**
   * emit with the text already made (the caller formats it with this.clock after checking heard). The hot
   * paths use this: a closure over their locals makes V8 allocate a context on every call, heard or not.
   */
  private emitLine(g: SimGpu, event: number, line: string): void {
    this.smi.emit(g.gpuId, this.opts.pid, event, line);
  }

  /** System memory KFD accounts (system_mem_used) and its limit, in bytes. */
  systemMemory(): { used: number; limit: number } {
    return { used: this.sysMemUsed, limit: this.sysMemLimit };
  }

  vramUsedPages(g: SimGpu): number {
    return this.mem.usedPages(g);
  }

  // ---------------------------------------------------------------- process state ioctls

  /** kfd_ioctl_acquire_vm. */
  acquireVm(gpuId: number): void {
    const g = this.gpu(gpuId);
    if (!g) throw new ModelError(Errno.EINVAL, `no GPU 0x${gpuId.toString(16)} in this process`);
    this.vms.add(g.idx);
  }

  hasVm(g: SimGpu): boolean {
    return this.vms.has(g.idx);
  }

  /** kfd_ioctl_set_xnack_mode. */
  setXnack(enabled: boolean): void {
    if (this.queues.size > 0) throw new ModelError(Errno.EBUSY, 'the process has user queues');
    if (this.xnack === enabled) return;
    // kfd_process_xnack_mode(p, true): every GPU must be able to run with retry faults.
    if (enabled && this.gpus.some((g) => !g.desc.xnackSupported)) {
      throw new ModelError(Errno.EPERM, 'a GPU of this process cannot run with XNACK on');
    }
    // svm_range_switch_xnack_reserve_mem: with XNACK off every range counts against the system memory
    // limit (it must stay resident); switching off reserves them all or fails with ENOMEM.
    const bytes = this.rangedPages * PAGE_SIZE;
    if (enabled) this.sysMemUsed -= bytes;
    else {
      if (this.sysMemUsed + bytes > this.sysMemLimit) throw new ModelError(Errno.ENOMEM, 'ranges exceed the system memory limit');
      this.sysMemUsed += bytes;
    }
    this.xnack = enabled;
  }

  createQueue(gpuId: number): number {
    const g = this.gpu(gpuId);
    if (!g) throw new ModelError(Errno.EINVAL, `no GPU 0x${gpuId.toString(16)}`);
    if (!this.hasVm(g)) throw new ModelError(Errno.EINVAL, 'no GPU VM acquired for this GPU');
    const id = this.nextQueue++;
    this.queues.set(id, g.idx);
    return id;
  }

  destroyQueue(id: number): void {
    if (!this.queues.delete(id)) throw new ModelError(Errno.EINVAL, `no queue ${id}`);
  }

  // ---------------------------------------------------------------- validation

  /** kfd_svm.c: svm_range_check_attr. */
  private checkAttr(attrs: readonly SvmAttribute[]): void {
    for (const a of attrs) {
      let idx = Number.MAX_SAFE_INTEGER; // MAX_GPU_INSTANCE: no GPU named
      switch (a.type) {
        case SvmAttrType.PREFERRED_LOC:
          if (a.value !== SvmLocation.SYSMEM && a.value !== U) idx = this.gpuIdx(a.value);
          break;
        case SvmAttrType.PREFETCH_LOC:
          if (a.value !== SvmLocation.SYSMEM) idx = this.gpuIdx(a.value);
          break;
        case SvmAttrType.ACCESS:
        case SvmAttrType.ACCESS_IN_PLACE:
        case SvmAttrType.NO_ACCESS:
          idx = this.gpuIdx(a.value);
          break;
        case SvmAttrType.SET_FLAGS:
        case SvmAttrType.CLR_FLAGS:
        case SvmAttrType.GRANULARITY:
          break;
        default:
          throw new ModelError(Errno.EINVAL, `unknown attr type 0x${a.type.toString(16)}`);
      }
      if (idx < 0) throw new ModelError(Errno.EINVAL, `no GPU 0x${a.value.toString(16)} found`);
      if (idx !== Number.MAX_SAFE_INTEGER && !(this.supported & (1 << idx))) {
        throw new ModelError(Errno.EINVAL, `GPU 0x${a.value.toString(16)} not supported`);
      }
    }
  }

  /**
   * kfd_svm.c: svm_range_is_valid. `start` and `size` are in pages. Every page must be in a VMA without
   * VM_IO | VM_PFNMAP | VM_MIXEDMAP. (svm_range_check_vm, which refuses spans holding KFD-allocated BOs with
   * EADDRINUSE, has nothing to find: the model has no ALLOC_MEMORY_OF_GPU.)
   */
  private isValid(start: number, pages: number, overflow: boolean): void {
    if (pages === 0) throw new ModelError(Errno.EINVAL, 'size 0');
    if (overflow) throw new ModelError(Errno.EOVERFLOW, 'start + size overflows');
    const a = start;
    const b = start + pages;
    // The common case: one anonymous VMA holds the whole span.
    if (this.space.vmas.covers(a, b, 'anon')) return;
    if (this.space.vmas.firstGap(a, b)) throw new ModelError(Errno.EFAULT, 'span not fully mapped');
    if (this.space.vmas.find(a, b, (k) => k !== 'anon')) throw new ModelError(Errno.EFAULT, 'span includes a device mapping');
  }

  // ---------------------------------------------------------------- SVM ioctl

  /** kfd_chardev.c: kfd_ioctl_svm, then kfd_svm.c: svm_ioctl. Addresses in bytes. */
  svm(op: number, start: bigint, size: bigint, attrs: readonly SvmAttribute[]): readonly SvmAttribute[] {
    if (start < TWO53 && size < TWO53) return this.svmBytes(op, Number(start), Number(size), attrs);
    // kfd_ioctl_svm's checks (alignment, then zero start or size → EINVAL) and svm_ioctl's shift to pages.
    if ((start & PAGE_MASK) !== 0n || (size & PAGE_MASK) !== 0n) throw new ModelError(Errno.EINVAL, 'start or size not page aligned');
    if (start === 0n || size === 0n) throw new ModelError(Errno.EINVAL, 'start or size is 0');
    const overflow = start + size > U64_MAX;
    return this.svmPages(op, Number(start >> SHIFT), Number(size >> SHIFT), overflow, attrs);
  }

  /**
   * The SVM ioctl with byte values below 2^53 as numbers (the backend converts them without BigInt
   * arithmetic; start + size cannot overflow a u64 then). Same checks, same order as svm().
   */
  svmBytes(op: number, start: number, size: number, attrs: readonly SvmAttribute[]): readonly SvmAttribute[] {
    // Division by a power of two is exact below 2^53; Math.floor instead of `%`, which is fmod on doubles.
    const startPage = start / PAGE_SIZE;
    const pages = size / PAGE_SIZE;
    if (startPage !== Math.floor(startPage) || pages !== Math.floor(pages)) {
      throw new ModelError(Errno.EINVAL, 'start or size not page aligned');
    }
    if (start === 0 || size === 0) throw new ModelError(Errno.EINVAL, 'start or size is 0');
    return this.svmPages(op, startPage, pages, false, attrs);
  }

  /** svm_ioctl, after the shift to pages; `overflow` is check_add_overflow's verdict on start + size. */
  private svmPages(op: number, start: number, pages: number, overflow: boolean, attrs: readonly SvmAttribute[]): readonly SvmAttribute[] {
    switch (op) {
      case 0:
        this.setAttr(start, pages, overflow, attrs);
        return attrs;
      case 1:
        return this.getAttr(start, pages, overflow, attrs);
      default:
        throw new ModelError(Errno.EINVAL, `unknown op ${op}`);
    }
  }

  /** kfd_svm.c: svm_range_set_attr. `start` and `pages` in pages. */
  private setAttr(start: number, pages: number, overflow: boolean, attrs: readonly SvmAttribute[]): void {
    this.checkAttr(attrs);
    // `if (!process_info) return -EINVAL;`: kgd_process_info exists once a GPU VM was acquired.
    if (this.vms.size === 0) throw new ModelError(Errno.EINVAL, 'no GPU VM acquired (kgd_process_info is NULL)');
    this.isValid(start, pages, overflow);

    // The common case of svm_range_add, one range exactly covering the span (then no other range overlaps
    // it): found with one hash lookup, updated in place, nothing cloned, split or created.
    const k = this.ranges.exactSlot(start, start + pages - 1);
    if (k >= 0) {
      this.setExact(k, attrs);
      return;
    }
    const accessAll = this.xnack ? this.supported : 0;
    const plan = planAdd(this.ranges, start, pages, attrs, accessAll, this.idxOf);
    // svm_range_new(..., update_mem_usage = true): with XNACK off new ranges are reserved against the
    // system memory limit ("SVM mapping failed, exceeds resident system memory limit").
    const newBytes = plan.newPages * PAGE_SIZE;
    if (!this.xnack) {
      if (this.sysMemUsed + newBytes > this.sysMemLimit) {
        throw new ModelError(Errno.ENOMEM, 'SVM mapping failed, exceeds resident system memory limit');
      }
      this.sysMemUsed += newBytes;
    }
    this.rangedPages += plan.newPages;
    // Apply the transaction: originals out, clones and new ranges in.
    for (const r of plan.remove) {
      this.removeRange(r);
      if (this.invalid.delete(r)) for (const c of plan.insert) if (c.start >= r.start && c.last <= r.last) this.invalid.add(c);
    }
    for (const r of plan.insert) this.insertRange(r);
    for (const r of plan.remove) this.mem.dropBoIfIdle(this.ranges.boOf(r));
    const st = this.ranges.store;
    let updateMapping = false;
    for (const r of plan.update) if (applyAttrs(st, r.slot, attrs, this.xnack, this.idxOf)) updateMapping = true;
    if (!this.xnack && plan.remap.length > 0) updateMapping = true;

    // Every range below is in the list from here on, and no call below inserts or removes one: their slots hold.
    let ret = 0;
    for (const r of plan.update) {
      const k = r.slot;
      const migrated = !this.noMigration(k) && this.triggerMigration(k);
      if (migrated && (!this.xnack || st.flags(k) & SvmFlag.GPU_ALWAYS_MAPPED) && st.mapped(k)) {
        continue; // "restore_work will update mappings of GPUs"
      }
      if (!migrated && !updateMapping) continue;
      if (this.validateAndMap(k, st.start(k), st.last(k), ALL_GPUS)) ret = Errno.EINVAL;
    }
    for (const r of plan.remap) {
      if (this.ranges.at(r.start) === r && this.validateAndMap(r.slot, r.start, r.last, ALL_GPUS)) ret = Errno.EINVAL;
    }
    this.restoreWork();
    // The attributes stay applied and migrations done: "there is no clean way of rolling back".
    if (ret) throw new ModelError(ret, 'a GPU with access has no GPU VM acquired');
  }

  /**
   * svm_range_set_attr when svm_range_add finds one range exactly covering the span (slot `k`): what the
   * general path does with an update list of that range alone (or none, when it already has the attributes
   * and is mapped), on its row alone (the range object is not read).
   */
  private setExact(k: number, attrs: readonly SvmAttribute[]): void {
    // svm_range_new is not called (no new pages), but the general path's check still runs with 0 to add.
    if (!this.xnack && this.sysMemUsed > this.sysMemLimit) {
      throw new ModelError(Errno.ENOMEM, 'SVM mapping failed, exceeds resident system memory limit');
    }
    const st = this.ranges.store;
    let ret = 0;
    if (!(isSameAttrs(st, k, attrs, this.idxOf) && st.mapped(k))) {
      const updateMapping = applyAttrs(st, k, attrs, this.xnack, this.idxOf);
      const migrated = !this.noMigration(k) && this.triggerMigration(k);
      if (migrated && (!this.xnack || st.flags(k) & SvmFlag.GPU_ALWAYS_MAPPED) && st.mapped(k)) {
        // "restore_work will update mappings of GPUs"
      } else if (migrated || updateMapping) {
        if (this.validateAndMap(k, st.start(k), st.last(k), ALL_GPUS)) ret = Errno.EINVAL;
      }
    }
    this.restoreWork();
    if (ret) throw new ModelError(ret, 'a GPU with access has no GPU VM acquired');
  }

  /**
   * svm_range_trigger_migration's early return, read from the row of slot k: no prefetch location, or
   * system memory for a range with no VRAM page (best_prefetch_location answers 0 for SYSMEM at once).
   */
  private noMigration(k: number): boolean {
    const st = this.ranges.store;
    const pf = st.prefetch(k);
    return pf === U || (pf === 0 && st.vram(k) === 0);
  }

  /** Scratch answer of getAttr (its fields are copied into fresh attribute objects before it returns). */
  private readonly answer: GetAnswer = { location: 0, prefetchLoc: 0, granularity: 0, flagsAnd: 0, flagsOr: 0, access: 0, aip: 0 };

  /** kfd_svm.c: svm_range_get_attr. `start` and `pages` in pages. */
  private getAttr(start: number, pages: number, overflow: boolean, attrs: readonly SvmAttribute[]): SvmAttribute[] {
    this.isValid(start, pages, overflow);
    let wanted = 0;
    for (const a of attrs) {
      switch (a.type) {
        case SvmAttrType.PREFERRED_LOC:
          wanted |= WANT_PREFERRED;
          break;
        case SvmAttrType.PREFETCH_LOC:
          wanted |= WANT_PREFETCH;
          break;
        case SvmAttrType.ACCESS:
          wanted |= WANT_ACCESS;
          break;
        case SvmAttrType.SET_FLAGS:
        case SvmAttrType.CLR_FLAGS:
          wanted |= WANT_FLAGS;
          break;
        case SvmAttrType.GRANULARITY:
          wanted |= WANT_GRANULARITY;
          break;
        default:
          // ACCESS_IN_PLACE and NO_ACCESS are answers, not questions.
          throw new ModelError(Errno.EINVAL, `get invalid attr type 0x${a.type.toString(16)}`);
      }
    }
    const last = start + pages - 1;
    const st = this.ranges.store;
    const ans = this.answer;
    // A range starting at the span's first page and reaching its last is the only one in the span.
    const k = st.find(start);
    if (k >= 0 && st.last(k) >= last) {
      ONE_SLOT[0] = k;
      aggregate(st, ONE_SLOT, 1, wanted, this.supported, this.xnack, this.ranges.defaultGranularity, ans);
    } else {
      const slots = this.ranges.overlapping(start, last).map((r) => r.slot);
      aggregate(st, slots, slots.length, wanted, this.supported, this.xnack, this.ranges.defaultGranularity, ans);
    }
    return attrs.map((a) => {
      switch (a.type) {
        case SvmAttrType.PREFERRED_LOC:
          return { type: a.type, value: ans.location };
        case SvmAttrType.PREFETCH_LOC:
          return { type: a.type, value: ans.prefetchLoc };
        case SvmAttrType.ACCESS: {
          const idx = this.gpuIdx(a.value);
          if (idx < 0) throw new ModelError(Errno.EINVAL, `invalid gpuid 0x${a.value.toString(16)}`);
          const bit = 1 << idx;
          const type = ans.access & bit ? SvmAttrType.ACCESS : ans.aip & bit ? SvmAttrType.ACCESS_IN_PLACE : SvmAttrType.NO_ACCESS;
          return { type, value: a.value };
        }
        case SvmAttrType.SET_FLAGS:
          return { type: a.type, value: ans.flagsAnd };
        case SvmAttrType.CLR_FLAGS:
          return { type: a.type, value: ~ans.flagsOr >>> 0 };
        default:
          return { type: a.type, value: ans.granularity };
      }
    });
  }

  // ---------------------------------------------------------------- residency helpers

  /** Puts a range in the list with its VRAM pages counted (svm_range_split_adjust / clone copy them). */
  private insertRange(r: SvmRange): void {
    this.ranges.insert(r);
    this.mem.countRange(r.slot);
  }

  /**
   * Takes a range out of the list with its VRAM pages written to the runs first (a lazy range's pages are
   * in no run; its pieces or clones count theirs from the runs when they join, and an unmap clears them).
   */
  private removeRange(r: SvmRange): void {
    this.mem.materialize(r.slot);
    this.ranges.remove(r);
  }

  /** The VMA pieces of [s, l] (svm_migrate_*: one migrate_vma per VMA); stops at the first hole. */
  private vmaChunks(s: number, l: number): { chunks: Array<{ s: number; l: number }>; hole: boolean } {
    const chunks: Array<{ s: number; l: number }> = [];
    let p = s;
    while (p <= l) {
      const v = this.space.vmas.runAt(p);
      if (!v) return { chunks, hole: true };
      const e = Math.min(v.end - 1, l);
      chunks.push({ s: p, l: e });
      p = e + 1;
    }
    return { chunks, hole: false };
  }

  /** The last page of the VMA piece of [p, l] that starts at p, or -1 when p is not mapped (a hole). */
  private chunkEnd(p: number, l: number): number {
    const e = this.space.vmas.endAt(p);
    return e < 0 ? -1 : Math.min(e - 1, l);
  }

  // ---------------------------------------------------------------- migration (kfd_migrate.c)
  // The migrations work on the range's row, slot k (see Residency): at 10^5 ranges its object would be one
  // more cache miss per call, and nothing here inserts or removes a range, so the slot holds throughout.

  /** kfd_svm.c: svm_range_best_prefetch_location. */
  private bestPrefetchLocation(k: number): number {
    const st = this.ranges.store;
    const best = st.prefetch(k);
    if (best === 0 || best === U) return best;
    const node = this.gpu(best);
    if (!node) return 0;
    // An APU has no VRAM to prefetch to: the pages stay in system memory.
    if (node.isApu) return 0;
    // Another GPU that must reach the pages and is outside the target's XGMI hive: keep them in RAM.
    // (for_each_set_bit over the mask, written out: a closure per prefetch is an allocation.)
    let mask = this.xnack ? st.aip(k) : st.access(k) | st.aip(k);
    for (let idx = 0; mask !== 0; idx++, mask >>>= 1) {
      if (!(mask & 1)) continue;
      const other = this.gpus[idx];
      if (other !== undefined && other !== node && !sameHive(other, node)) return 0;
    }
    return best;
  }

  /** kfd_svm.c: svm_range_trigger_migration. A failed migration to VRAM is not reported (returns 0). */
  private triggerMigration(k: number): boolean {
    const best = this.bestPrefetchLocation(k);
    if (best === U || (best === 0 && this.mem.actualAt(k) === 0)) return false;
    const st = this.ranges.store;
    if (best === 0) return this.vramToRam(k, st.start(k), st.last(k), MigrateTrigger.PREFETCH) === 0;
    return this.toVram(k, best, st.start(k), st.last(k), MigrateTrigger.PREFETCH) === 0;
  }

  /** kfd_migrate.c: svm_migrate_to_vram (and svm_migrate_vram_to_vram through system memory). */
  private toVram(k: number, best: number, s: number, l: number, trigger: number): number {
    const actual = this.mem.actualAt(k);
    if (actual === 0 || actual === best) return this.ramToVram(k, best, s, l, trigger, actual);
    const st = this.ranges.store;
    const e = this.vramToRam(k, st.start(k), st.last(k), trigger);
    if (e) return e;
    if (this.mem.actualAt(k) !== 0) return Errno.EBUSY; // -EDEADLK in the kernel; not reachable in the model
    return this.ramToVram(k, best, s, l, trigger, 0);
  }

  /**
   * kfd_migrate.c: svm_migrate_ram_to_vram + svm_migrate_vma_to_vram. Returns 0 or an errno. `actual` is
   * prange->actual_loc as the caller just read it (making room evicts only other BOs).
   */
  private ramToVram(k: number, best: number, s: number, l: number, trigger: number, actual: number): number {
    const g = this.gpu(best);
    if (!g) return Errno.ENODEV;
    const st = this.ranges.store;
    // A range's bounds never change (a split makes new ranges): read once.
    const rs = st.start(k);
    const rl = st.last(k);
    const np = rl - rs + 1;
    // A split piece may still hold its range's BO on another GPU with none of its pages in it. The kernel
    // lets go of it before it reserves and allocates here (svm_migrate_vram_to_vram's svm_migrate_vram_to_ram
    // ends in svm_range_vram_node_free; svm_range_validate_svm_bo drops a BO of another node), so that BO
    // takes no room in a VRAM pool the new one may share with it.
    const boHere = this.mem.hasBoOn(k, g);
    if (!boHere) this.mem.detachBo(k);
    // amdgpu_amdkfd_reserve_mem_limit on the whole range: a range larger than the VRAM never moves.
    if (np > g.reservePages) return Errno.ENOSPC;
    // svm_range_vram_node_new: a BO for the whole range, unless it has one there; allocating it makes TTM
    // evict least recently used BOs.
    const need = boHere ? 0 : np;
    if (!this.makeRoom(g, need, k)) return Errno.ENOMEM;
    const hadVram = actual !== 0;
    this.mem.attachBo(k, g);
    let moved = 0;
    // The VMA pieces of [s, l], one migrate_vma each, up to the first hole (as vmaChunks, without objects).
    for (let cs = s, ce = this.chunkEnd(s, l); ce >= 0; cs = ce + 1, ce = cs > l ? -1 : this.chunkEnd(cs, l)) {
      const n = ce - cs + 1;
      if (this.heard(g)) this.emitLine(g, SmiEvent.MIGRATE_START,
        smiFormat.migrateStart(this.clock, this.opts.pid, cs, n, 0, g.gpuId, st.prefetch(k), st.pref(k), trigger));
      // migrate_vma_setup invalidates the CPU mapping first (MMU_NOTIFY_MIGRATE).
      this.invalidate(k, cs, ce);
      // MIGRATE_VMA_SELECT_SYSTEM: only pages in system memory are collected. A range with no VRAM page
      // or only VRAM pages needs no look at the runs.
      const resident = st.vram(k);
      let cpages = 0;
      if (resident === 0) {
        cpages = n;
        // The whole range in one piece: kept as the range's lazy flag, no run written.
        if (cs === rs && ce === rl) this.mem.fillWhole(k, g.idx);
        else this.mem.set(cs, ce + 1, g.idx);
      } else if (resident < np) {
        const gaps = this.mem.runs.gaps(cs, ce + 1);
        for (const gap of gaps) cpages += gap.end - gap.start;
        for (const gap of gaps) this.mem.set(gap.start, gap.end, g.idx);
      }
      if (cpages === 0) continue; // "failed collect migrate sys pages": no MIGRATE_END
      st.setVram(k, resident + cpages);
      st.setVgpu(k, g.idx);
      this.spend(g, cpages);
      this.counters.migrations++;
      this.counters.bytesMoved.toDevice += cpages * PAGE_SIZE;
      if (this.heard(g)) this.emitLine(g, SmiEvent.MIGRATE_END, smiFormat.migrateEnd(this.clock, this.opts.pid, cs, n, 0, g.gpuId, trigger));
      moved += cpages;
    }
    if (moved === 0 && !hadVram) this.mem.detachBo(k);
    return 0;
  }

  /** kfd_migrate.c: svm_migrate_vram_to_ram + svm_migrate_vma_to_ram. Returns 0 or an errno. */
  private vramToRam(k: number, s: number, l: number, trigger: number): number {
    const actual = this.mem.actualAt(k);
    if (actual === 0) {
      // "already migrated to ram". A split piece may still hold the BO of its range without a page in it;
      // the kernel lets go of it on its next migration (vram_pages == 0), which the model does now.
      this.mem.detachBo(k);
      return 0;
    }
    const g = this.gpu(actual)!;
    const st = this.ranges.store;
    const rs = st.start(k);
    const rl = st.last(k);
    // The VMA pieces of [s, l], one migrate_vma each, up to the first hole (as vmaChunks, without objects).
    let hole = false;
    for (let cs = s, ce = 0; cs <= l; cs = ce + 1) {
      ce = this.chunkEnd(cs, l);
      if (ce < 0) {
        hole = true;
        break;
      }
      const n = ce - cs + 1;
      if (this.heard(g)) this.emitLine(g, SmiEvent.MIGRATE_START,
        smiFormat.migrateStart(this.clock, this.opts.pid, cs, n, g.gpuId, 0, st.prefetch(k), st.pref(k), trigger));
      this.invalidate(k, cs, ce);
      // MIGRATE_VMA_SELECT_DEVICE_COHERENT / _PRIVATE with this device as pgmap owner. A range wholly in
      // VRAM (all of it on this GPU) needs no look at the runs; a lazy one moving only in part gets its
      // pages written to the runs first.
      const whole = cs === rs && ce === rl;
      const lazy = st.lazy(k);
      if (lazy && !whole) this.mem.materialize(k);
      const resident = st.vram(k);
      let cpages = 0;
      if (resident === rl - rs + 1) {
        cpages = n;
        if (lazy && whole) this.mem.emptyWhole(k);
        else this.mem.set(cs, ce + 1, undefined);
      } else {
        const runs = this.mem.runs.runs(cs, ce + 1).filter((x) => x.value === g.idx);
        for (const x of runs) cpages += x.end - x.start;
        for (const x of runs) this.mem.set(x.start, x.end, undefined);
      }
      if (cpages === 0) continue;
      st.setVram(k, resident - cpages);
      this.spend(g, cpages);
      this.counters.migrations++;
      this.counters.bytesMoved.toSystem += cpages * PAGE_SIZE;
      if (this.heard(g)) this.emitLine(g, SmiEvent.MIGRATE_END, smiFormat.migrateEnd(this.clock, this.opts.pid, cs, n, g.gpuId, 0, trigger));
    }
    if (this.mem.actualAt(k) === 0) this.mem.detachBo(k);
    return hole ? Errno.EFAULT : 0;
  }

  /**
   * TTM making room in a GPU's VRAM: evict the least recently used SVM BOs other than the one being filled
   * (the BO of the range in row `self`); each eviction is kfd_svm.c: svm_range_evict_svm_bo_worker (every
   * range of the BO back to RAM, KFD_MIGRATE_TRIGGER_TTM_EVICTION).
   */
  private makeRoom(g: SimGpu, need: number, self: number): boolean {
    const st = this.ranges.store;
    while (this.mem.freePages(g) < need) {
      const victim = this.mem.takeVictim(g, this.ranges.boAt(self));
      if (victim < 0) return false;
      this.counters.evictions++;
      for (const pk of this.ranges.slotsOf(victim)) this.vramToRam(pk, st.start(pk), st.last(pk), MigrateTrigger.TTM_EVICTION);
      // Every range of the BO is in RAM now and has let go of it (svm_range_vram_node_free).
      for (const pk of this.ranges.slotsOf(victim)) this.mem.detachBo(pk);
    }
    return true;
  }

  // ---------------------------------------------------------------- GPU mappings (kfd_svm.c)

  /**
   * kfd_svm.c: svm_range_cpu_invalidate_pagetables → svm_range_evict for a migration (MMU_NOTIFY_MIGRATE).
   * XNACK off (or GPU_ALWAYS_MAPPED): a mapped range stops the process's queues (first eviction only) and is
   * remapped by the restore work. XNACK on: the span is unmapped from the GPUs, which fault it back.
   */
  private invalidate(k: number, s: number, l: number): void {
    const st = this.ranges.store;
    if (!this.xnack || st.flags(k) & SvmFlag.GPU_ALWAYS_MAPPED) {
      if (!st.mapped(k)) return;
      this.invalid.add(st.objs[k]!);
      if (this.quiesced) return;
      this.quiesced = true;
      this.counters.queueEvictions++;
      // kgd2kfd_quiesce_mm → kfd_process_evict_queues: one event per device of the process.
      for (const g of this.gpus) {
        if (this.heard(g)) this.emitLine(g, SmiEvent.QUEUE_EVICTION, smiFormat.queueEviction(this.clock, this.opts.pid, g.gpuId, QueueEvictionTrigger.SVM));
      }
    } else {
      this.unmapFromGpus(k, s, l, UnmapTrigger.MMU_NOTIFY_MIGRATE);
    }
  }

  /** kfd_svm.c: svm_range_restore_work: remap the invalidated ranges, then resume the queues. */
  private restoreWork(): void {
    if (!this.quiesced && this.invalid.size === 0) return;
    const todo = [...this.invalid].sort((a, b) => a.start - b.start);
    this.invalid.clear();
    for (const r of todo) if (this.ranges.at(r.start) === r) this.validateAndMap(r.slot, r.start, r.last, ALL_GPUS);
    if (this.quiesced) {
      this.quiesced = false;
      // kgd2kfd_resume_mm → kfd_process_restore_queues.
      for (const g of this.gpus) {
        if (this.heard(g)) this.emitLine(g, SmiEvent.QUEUE_RESTORE, smiFormat.queueRestore(this.clock, this.opts.pid, g.gpuId, false));
      }
    }
  }

  /** kfd_svm.c: svm_range_unmap_from_gpus, for the range in row k. */
  private unmapFromGpus(k: number, s: number, l: number, trigger: number): void {
    const st = this.ranges.store;
    if (!st.mapped(k)) return;
    if (s === st.start(k) && l === st.last(k)) st.setMapped(k, false);
    // for_each_set_bit, written out (a closure here would cost a context per call).
    for (let idx = 0, mask = st.access(k) | st.aip(k); mask !== 0; idx++, mask >>>= 1) {
      if (!(mask & 1)) continue;
      const g = this.gpus[idx]!;
      if (this.heard(g)) this.emitLine(g, SmiEvent.UNMAP_FROM_GPU, smiFormat.unmapFromGpu(this.clock, this.opts.pid, s, l - s + 1, g.gpuId, trigger));
      this.gpuMaps[idx]!.assign(s, l + 1, undefined);
    }
  }

  /**
   * kfd_svm.c: svm_range_validate_and_map. `only` is a gpuidx, or ALL_GPUS for MAX_GPU_INSTANCE. Returns 0,
   * or EINVAL when a GPU to map has no VM: kfd_bind_process_to_device fails (-ENODEV) and
   * svm_range_map_to_gpus answers -EINVAL. (The 6.12 kernel actually dereferences the missing drm_priv
   * earlier, in svm_range_reserve_bos; the model gives the answer the code is written to give.)
   */
  private validateAndMap(k: number, s: number, l: number, only: number): number {
    const st = this.ranges.store;
    let mask: number;
    // prange->actual_loc, read once and only when the answer needs it.
    let actual = -1;
    if (only !== ALL_GPUS) mask = 1 << only;
    else if (this.xnack) {
      actual = this.mem.actualAt(k);
      mask = st.aip(k);
      if (actual) {
        const ai = this.gpuIdx(actual);
        if (st.access(k) & (1 << ai)) mask |= 1 << ai;
      }
      if (mask === 0 && (st.mapped(k) || st.flags(k) & SvmFlag.GPU_ALWAYS_MAPPED)) mask = st.access(k);
    } else mask = st.access(k) | st.aip(k);
    if (mask === 0) return 0;
    // Bit loops written out: a closure here would cost a context per call, mask or not.
    for (let idx = 0, m = mask; m !== 0; idx++, m >>>= 1) if (m & 1 && !this.vms.has(idx)) return Errno.EINVAL;
    if (actual < 0) actual = this.mem.actualAt(k);
    // svm_range_map_to_gpus: a GPU outside the XGMI hive of the BO's GPU cannot map its VRAM.
    const boGpu = actual ? this.gpu(actual) : undefined;
    const { chunks, hole } = this.vmaChunks(s, l);
    for (const c of chunks) {
      for (let idx = 0, m = mask; m !== 0; idx++, m >>>= 1) {
        if (!(m & 1)) continue;
        const g = this.gpus[idx]!;
        if (boGpu && g !== boGpu && !sameHive(g, boGpu)) continue;
        this.gpuMaps[idx]!.assign(c.s, c.l + 1, true);
      }
    }
    if (!hole) st.setMapped(k, true);
    return 0;
  }

  /**
   * kfd_svm.c: svm_range_unmap_from_cpu (MMU_NOTIFY_UNMAP). The unmapped part of every range is unmapped
   * from the GPUs (UNMAP_FROM_GPU, trigger UNMAP_FROM_CPU) and removed; the rest of a range survives as
   * its own range (svm_range_unmap_split). The pages themselves are gone, VRAM ones included
   * (svm_migrate_page_free), without any migration.
   */
  private unmapFromCpu(startPage: number, endPage: number): void {
    const last = endPage - 1;
    for (const r of this.ranges.overlapping(startPage, last)) {
      const s = Math.max(startPage, r.start);
      const l = Math.min(last, r.last);
      this.unmapFromGpus(r.slot, s, l, UnmapTrigger.UNMAP_FROM_CPU);
      // A lazy range unmapped whole: its pages leave VRAM without being written to the runs first.
      if (r.lazy && s === r.start && l === r.last) this.mem.emptyWhole(r.slot);
      const bo = this.ranges.boOf(r);
      const place = bo >= 0 ? this.ranges.bos.placeOf(bo, r.start) : -1;
      this.removeRange(r);
      // svm_range_free(prange, true) of the unmapped piece: unreserved when XNACK is off.
      this.rangedPages -= l - s + 1;
      if (!this.xnack) this.sysMemUsed -= (l - s + 1) * PAGE_SIZE;
      const wasInvalid = this.invalid.delete(r);
      const keep: SvmRange[] = [];
      if (r.start < s) keep.push(this.ranges.clone(r, r.start, s - 1));
      if (r.last > l) keep.push(this.ranges.clone(r, l + 1, r.last));
      for (const k of keep) {
        this.insertRange(k);
        if (wasInvalid) this.invalid.add(k);
      }
      // svm_range_unmap_split splits prange in place: the piece left in prange (the low one if there is one)
      // keeps prange's place in its BO's range list; a second piece is new and joined at the head.
      if (place >= 0 && keep.length > 0) this.ranges.bos.setPlace(bo, keep[0]!.start, place);
      this.mem.dropBoIfIdle(bo);
    }
    this.mem.set(startPage, endPage, undefined);
    for (const m of this.gpuMaps) m.assign(startPage, endPage, undefined);
  }

  // ---------------------------------------------------------------- faults

  /** kfd_svm.c: svm_range_best_restore_location; -1 when the GPU has no access. */
  private bestRestoreLocation(r: SvmRange, g: SimGpu): number {
    if (g.isApu) return 0;
    if (r.preferredLoc === g.gpuId || r.preferredLoc === SvmLocation.SYSMEM) return r.preferredLoc;
    if (r.preferredLoc !== U) {
      const pn = this.gpu(r.preferredLoc);
      if (pn && sameHive(g, pn)) return r.preferredLoc;
    }
    const bit = 1 << g.idx;
    if (r.access & bit) return g.gpuId;
    if (r.aip & bit) {
      const actual = this.mem.actualAt(r.slot);
      if (!actual) return 0;
      const bo = this.gpu(actual);
      return bo && sameHive(g, bo) ? actual : 0;
    }
    return -1;
  }

  /** kfd_svm.c: svm_range_create_unregistered_range + svm_range_get_range_boundaries. */
  private createUnregisteredRange(page: number): SvmRange | undefined {
    const vma = this.space.vmas.runAt(page);
    if (!vma || vma.value !== 'anon') return undefined;
    const size = pow2(this.ranges.defaultGranularity);
    const down = page - (page % size);
    let start = Math.max(vma.start, down);
    let end = Math.min(vma.end, down + size);
    const next = this.ranges.tree.after(page);
    if (next) end = Math.min(end, next.start);
    const prev = this.ranges.tree.floor(page);
    if (prev) start = Math.max(start, prev.end);
    const r = this.ranges.create(start, end - 1, this.xnack ? this.supported : 0);
    this.insertRange(r);
    this.rangedPages += end - start; // XNACK is on here: nothing to reserve
    return r;
  }

  /**
   * kfd_svm.c: svm_range_restore_pages, the recoverable GPU fault handler. Returns 0 when the fault was
   * handled, else the errno that turns it into a VM fault.
   */
  private restorePages(g: SimGpu, page: number, write: boolean): number {
    if (!g.svmSupported) return Errno.EFAULT;
    if (!this.xnack) return Errno.EFAULT;
    const r = this.ranges.at(page) ?? this.createUnregisteredRange(page);
    if (!r) return Errno.EFAULT;
    const best = this.bestRestoreLocation(r, g);
    if (best === -1) return Errno.EACCES;
    const t = this.clock;
    if (this.heard(g)) this.emit(g, SmiEvent.PAGE_FAULT_START, () => smiFormat.pageFaultStart(t, this.opts.pid, page, g.gpuId, write));
    this.counters.faults.gpu++;
    // r is in the list from here on, and nothing below inserts or removes a range: its slot holds.
    const k = r.slot;
    const { s, l } = granule(this.ranges.store, page, k);
    let migration = false;
    const actual = this.mem.actualAt(k);
    if (actual !== 0 || best !== 0) {
      migration = true;
      let e: number;
      if (best) {
        e = this.toVram(k, best, s, l, MigrateTrigger.PAGEFAULT_GPU);
        // "falling back to system memory if migration to VRAM failed"
        if (e) e = actual && actual !== best ? this.vramToRam(k, s, l, MigrateTrigger.PAGEFAULT_GPU) : 0;
      } else e = this.vramToRam(k, s, l, MigrateTrigger.PAGEFAULT_GPU);
      if (e) return e;
    }
    this.validateAndMap(k, s, l, g.idx);
    if (this.heard(g)) this.emit(g, SmiEvent.PAGE_FAULT_END, (ns) => smiFormat.pageFaultEnd(ns, this.opts.pid, page, g.gpuId, migration));
    return 0;
  }

  /** A no-retry GPU fault: kfd_smi_event_update_vmfault ("%x:%s", pid and task name). */
  private vmFault(g: SimGpu): void {
    this.counters.faults.vm++;
    if (this.heard(g)) this.emit(g, SmiEvent.VMFAULT, () => smiFormat.vmFault(this.opts.pid, this.opts.taskName));
  }

  /**
   * The GPU touches [a, b) pages. Pages its page table maps are accessed where they are; the first unmapped
   * page faults: recovered by svm_range_restore_pages with XNACK on, a VM fault otherwise (the access
   * stops there, as the wave would be killed).
   */
  gpuAccess(g: SimGpu, a: number, b: number, write: boolean): { vmFault: boolean; faults: number } {
    let faults = 0;
    let p = a;
    try {
      for (;;) {
        const gap = this.gpuMaps[g.idx]!.firstGap(p, b);
        if (!gap) return { vmFault: false, faults };
        faults++;
        if (this.restorePages(g, gap.start, write) !== 0 || !this.gpuMaps[g.idx]!.at(gap.start)) {
          this.vmFault(g);
          return { vmFault: true, faults };
        }
        p = gap.start;
      }
    } finally {
      this.restoreWork();
    }
  }

  /**
   * The CPU touches [a, b) pages. Device-coherent and system pages are used in place; each device-private
   * page faults (kfd_migrate.c: svm_migrate_to_ram), which migrates its granule of the range back to RAM
   * (KFD_MIGRATE_TRIGGER_PAGEFAULT_CPU). Returns false if a page is not mapped (the process would get SIGSEGV).
   */
  cpuAccess(a: number, b: number): boolean {
    if (this.space.vmas.firstGap(a, b)) return false;
    // The pages of lazy ranges are in no run: write those of [a, b) to the runs before looking.
    if (this.mem.lazyRanges > 0) for (const r of this.ranges.overlapping(a, b - 1)) this.mem.materialize(r.slot);
    let p = a;
    while (p < b) {
      const run = this.mem.runs.find(p, b, (idx) => this.gpus[idx]?.kind === 'private');
      if (!run) break;
      const r = this.ranges.at(run.start);
      if (!r) {
        // Device pages outside any range cannot exist in the model; move on defensively.
        p = run.end;
        continue;
      }
      const { s, l } = granule(this.ranges.store, run.start, r.slot);
      this.counters.faults.cpu++;
      this.vramToRam(r.slot, s, l, MigrateTrigger.PAGEFAULT_CPU);
      p = Math.max(l + 1, run.start + 1);
    }
    this.restoreWork();
    return true;
  }

  /** A VM fault of another process on this GPU (sim only), to exercise the ALL_PROCESS filter. */
  foreignVmFault(g: SimGpu, pid: number, taskName: string): void {
    if (this.smi.listening(g.gpuId)) this.smi.emit(g.gpuId, pid, SmiEvent.VMFAULT, smiFormat.vmFault(pid, taskName));
  }

  // ---------------------------------------------------------------- introspection

  /** Where the mapped pages of [a, b) live, per run. Unmapped pages are left out. */
  snapshot(a: number, b: number): SnapshotRun[] {
    const lazy = this.mem.lazyRanges > 0 ? this.ranges.overlapping(a, b - 1).filter((r) => r.lazy) : [];
    return this.mem.snapshot(this.space.vmas.runs(a, b), lazy);
  }
}
