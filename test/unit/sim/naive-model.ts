/**
 * A naive reference model of the same kernel rules, kept per page: every page records its range id, its
 * location and which GPUs map it. It is slow on purpose (O(pages) everywhere) and shares no data
 * structure with the sim, so the differential test compares the sim's interval trees against plain arrays.
 * Events, the clock and VRAM eviction are left out (the differential runs with VRAM to spare).
 */
import { SvmAttrType as T, SvmFlag, SvmLocation } from '../../../src/backend/abi.js';
import type { SvmAttribute } from '../../../src/backend/contract.js';
import type { MachineProfile } from '../../../src/platform/profile-types.js';

interface Page {
  rid: number | undefined;
  /** gpu index when in VRAM. */
  loc: number | undefined;
  /** Bitmask of GPUs whose page table maps the page. */
  maps: number;
}

interface Attrs {
  preferred: number;
  prefetch: number;
  gran: number;
  flags: number;
  access: number;
  aip: number;
  mapped: boolean;
}

export class NaiveError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

const U = SvmLocation.UNDEFINED;

export class NaiveModel {
  pages = new Map<number, Page>();
  ranges = new Map<number, Attrs>();
  private rid = 1;
  xnack: boolean;
  private readonly ids: number[];
  private readonly kinds: string[];
  private readonly hives: bigint[];
  private readonly supported: number;
  private readonly maxPages: number;

  constructor(p: MachineProfile, maxPages: number) {
    this.xnack = p.xnackDefault;
    this.ids = p.gpus.map((g) => g.gpuId);
    this.kinds = p.gpus.map((g) => g.memoryKind);
    this.hives = p.gpus.map((g) => g.hiveId);
    this.supported = p.gpus.reduce((m, g, i) => (g.svmSupported ? m | (1 << i) : m), 0);
    this.maxPages = maxPages;
  }

  private idx(gpuId: number): number {
    return this.ids.indexOf(gpuId);
  }
  private hive(a: number, b: number): boolean {
    return a === b || (this.hives[a] !== 0n && this.hives[a] === this.hives[b]);
  }

  map(start: number, n: number): void {
    for (let i = start; i < start + n; i++) this.pages.set(i, { rid: undefined, loc: undefined, maps: 0 });
  }

  unmap(start: number, n: number): void {
    // Pieces of a range on either side of the hole become ranges of their own.
    const touched = new Set<number>();
    for (let i = start; i < start + n; i++) {
      const rid = this.pages.get(i)?.rid;
      if (rid !== undefined) touched.add(rid);
    }
    for (const rid of touched) {
      const a = this.ranges.get(rid)!;
      const pages = this.pagesOf(rid);
      const inside = pages.filter((q) => q >= start && q < start + n);
      if (a.mapped && inside.length === pages.length) a.mapped = false;
      const head = pages.filter((q) => q < start);
      const tail = pages.filter((q) => q >= start + n);
      for (const part of [head, tail]) {
        if (part.length === 0) continue;
        const r = this.rid++;
        this.ranges.set(r, { ...a });
        for (const q of part) this.pages.get(q)!.rid = r;
      }
      this.ranges.delete(rid);
    }
    for (let i = start; i < start + n; i++) this.pages.delete(i);
  }

  pagesOf(rid: number): number[] {
    const out: number[] = [];
    for (const [q, pg] of this.pages) if (pg.rid === rid) out.push(q);
    return out.sort((x, y) => x - y);
  }

  private actual(rid: number): number {
    for (const q of this.pagesOf(rid)) {
      const l = this.pages.get(q)!.loc;
      if (l !== undefined) return this.ids[l]!;
    }
    return 0;
  }

  private checkAttr(attrs: readonly SvmAttribute[]): void {
    for (const a of attrs) {
      let gi: number | undefined;
      if (a.type === T.PREFERRED_LOC) gi = a.value === 0 || a.value === U ? undefined : this.idx(a.value);
      else if (a.type === T.PREFETCH_LOC) gi = a.value === 0 ? undefined : this.idx(a.value);
      else if (a.type === T.ACCESS || a.type === T.ACCESS_IN_PLACE || a.type === T.NO_ACCESS) gi = this.idx(a.value);
      else if (a.type !== T.SET_FLAGS && a.type !== T.CLR_FLAGS && a.type !== T.GRANULARITY) throw new NaiveError('EINVAL');
      if (gi === undefined) continue;
      if (gi < 0 || !(this.supported & (1 << gi))) throw new NaiveError('EINVAL');
    }
  }

  private valid(start: number, n: number): void {
    for (let i = start; i < start + n; i++) if (!this.pages.has(i)) throw new NaiveError('EFAULT');
  }

  private same(a: Attrs, attrs: readonly SvmAttribute[]): boolean {
    for (const x of attrs) {
      const bit = 1 << Math.max(0, this.idx(x.value));
      if (x.type === T.PREFERRED_LOC && a.preferred !== x.value) return false;
      if (x.type === T.PREFETCH_LOC) return false;
      if (x.type === T.ACCESS && !(a.access & bit)) return false;
      if (x.type === T.ACCESS_IN_PLACE && !(a.aip & bit)) return false;
      if (x.type === T.NO_ACCESS && (a.access & bit || a.aip & bit)) return false;
      if (x.type === T.SET_FLAGS && ((a.flags & x.value) >>> 0) !== x.value) return false;
      if (x.type === T.CLR_FLAGS && (a.flags & x.value) !== 0) return false;
      if (x.type === T.GRANULARITY && a.gran !== x.value) return false;
    }
    return true;
  }

  private newAttrs(): Attrs {
    return { preferred: U, prefetch: U, gran: 9, flags: 3, access: this.xnack ? this.supported : 0, aip: 0, mapped: false };
  }

  set(start: number, n: number, attrs: readonly SvmAttribute[]): void {
    this.checkAttr(attrs);
    this.valid(start, n);
    const update: number[] = [];
    const end = start + n;
    // Existing ranges overlapping the span.
    const seen = new Set<number>();
    for (let i = start; i < end; i++) {
      const rid = this.pages.get(i)!.rid;
      if (rid === undefined || seen.has(rid)) continue;
      seen.add(rid);
      const a = this.ranges.get(rid)!;
      const pages = this.pagesOf(rid);
      if (this.same(a, attrs) && a.mapped) continue;
      if (pages[0]! < start || pages[pages.length - 1]! >= end) {
        // Clone and split: inside, head and tail each become a new range.
        const parts = [pages.filter((q) => q < start), pages.filter((q) => q >= start && q < end), pages.filter((q) => q >= end)];
        parts.forEach((part, k) => {
          if (part.length === 0) return;
          const r = this.rid++;
          this.ranges.set(r, { ...a });
          for (const q of part) this.pages.get(q)!.rid = r;
          if (k === 1) update.push(r);
        });
        this.ranges.delete(rid);
      } else update.push(rid);
    }
    // Holes: new ranges, cut at multiples of maxPages.
    let cur: number | undefined;
    for (let i = start; i < end; i++) {
      const pg = this.pages.get(i)!;
      if (pg.rid !== undefined) {
        cur = undefined;
        continue;
      }
      if (cur === undefined || i % this.maxPages === 0) {
        cur = this.rid++;
        this.ranges.set(cur, this.newAttrs());
        update.push(cur);
      }
      pg.rid = cur;
    }
    let updateMapping = false;
    for (const rid of update) {
      const a = this.ranges.get(rid)!;
      for (const x of attrs) {
        const bit = 1 << Math.max(0, this.idx(x.value));
        switch (x.type) {
          case T.PREFERRED_LOC: a.preferred = x.value; break;
          case T.PREFETCH_LOC: a.prefetch = x.value; break;
          case T.ACCESS: a.access |= bit; a.aip &= ~bit; if (!this.xnack) updateMapping = true; break;
          case T.ACCESS_IN_PLACE: a.aip |= bit; a.access &= ~bit; if (!this.xnack) updateMapping = true; break;
          case T.NO_ACCESS: a.access &= ~bit; a.aip &= ~bit; if (!this.xnack) updateMapping = true; break;
          case T.SET_FLAGS: a.flags = (a.flags | x.value) >>> 0; updateMapping = true; break;
          case T.CLR_FLAGS: a.flags = (a.flags & ~x.value) >>> 0; updateMapping = true; break;
          case T.GRANULARITY: a.gran = Math.min(x.value, 63); break;
        }
      }
    }
    // (The remap list only forces mapping on XNACK off; it never changes what the tests compare
    // unless a range is mapped, which then remaps to the same pages.)
    for (const rid of update) {
      const a = this.ranges.get(rid)!;
      const migrated = this.trigger(rid);
      if (migrated && (!this.xnack || a.flags & SvmFlag.GPU_ALWAYS_MAPPED) && a.mapped) continue;
      if (!migrated && !updateMapping) continue;
      this.mapRange(rid, -1);
    }
    this.restore();
  }

  private invalid = new Set<number>();

  private restore(): void {
    for (const rid of this.invalid) if (this.ranges.has(rid)) this.mapRange(rid, -1);
    this.invalid.clear();
  }

  private bestPrefetch(a: Attrs): number {
    const best = a.prefetch;
    if (best === 0 || best === U) return best;
    const gi = this.idx(best);
    if (this.kinds[gi] === 'apu') return 0;
    const mask = this.xnack ? a.aip : a.access | a.aip;
    for (let i = 0; i < this.ids.length; i++) if (mask & (1 << i) && i !== gi && !this.hive(i, gi)) return 0;
    return best;
  }

  private trigger(rid: number): boolean {
    const a = this.ranges.get(rid)!;
    const best = this.bestPrefetch(a);
    const pages = this.pagesOf(rid);
    if (best === U || (best === 0 && this.actual(rid) === 0)) return false;
    if (best === 0) {
      this.toRam(rid, pages[0]!, pages[pages.length - 1]!);
      return true;
    }
    this.toVram(rid, best, pages[0]!, pages[pages.length - 1]!);
    return true;
  }

  private invalidate(rid: number, s: number, l: number): void {
    const a = this.ranges.get(rid)!;
    if (!this.xnack || a.flags & SvmFlag.GPU_ALWAYS_MAPPED) {
      if (a.mapped) this.invalid.add(rid);
      return;
    }
    if (!a.mapped) return;
    const pages = this.pagesOf(rid);
    if (s === pages[0] && l === pages[pages.length - 1]) a.mapped = false;
    const mask = a.access | a.aip;
    for (let q = s; q <= l; q++) this.pages.get(q)!.maps &= ~mask;
  }

  private toVram(rid: number, best: number, s: number, l: number): void {
    const act = this.actual(rid);
    if (act !== 0 && act !== best) {
      const pages = this.pagesOf(rid);
      this.toRam(rid, pages[0]!, pages[pages.length - 1]!);
    }
    const gi = this.idx(best);
    this.invalidate(rid, s, l);
    for (let q = s; q <= l; q++) {
      const pg = this.pages.get(q)!;
      if (pg.loc === undefined) pg.loc = gi;
    }
  }

  private toRam(rid: number, s: number, l: number): void {
    const act = this.actual(rid);
    if (act === 0) return;
    const gi = this.idx(act);
    this.invalidate(rid, s, l);
    for (let q = s; q <= l; q++) {
      const pg = this.pages.get(q)!;
      if (pg.loc === gi) pg.loc = undefined;
    }
  }

  private mapRange(rid: number, only: number, s?: number, l?: number): void {
    const a = this.ranges.get(rid)!;
    const pages = this.pagesOf(rid);
    const act = this.actual(rid);
    let mask: number;
    if (only >= 0) mask = 1 << only;
    else if (this.xnack) {
      mask = a.aip;
      if (act && a.access & (1 << this.idx(act))) mask |= 1 << this.idx(act);
      if (mask === 0 && (a.mapped || a.flags & SvmFlag.GPU_ALWAYS_MAPPED)) mask = a.access;
    } else mask = a.access | a.aip;
    if (mask === 0) return;
    const bo = act ? this.idx(act) : -1;
    for (let i = 0; i < this.ids.length; i++) {
      if (!(mask & (1 << i))) continue;
      if (bo >= 0 && i !== bo && !this.hive(i, bo)) continue;
      for (const q of pages) if (q >= (s ?? -1) && q <= (l ?? Infinity)) this.pages.get(q)!.maps |= 1 << i;
    }
    a.mapped = true;
  }

  get(start: number, n: number, attrs: readonly SvmAttribute[]): SvmAttribute[] {
    this.valid(start, n);
    for (const x of attrs) {
      if (x.type === T.ACCESS_IN_PLACE || x.type === T.NO_ACCESS || x.type > T.GRANULARITY) throw new NaiveError('EINVAL');
    }
    const rs: Attrs[] = [];
    const seen = new Set<number>();
    for (let i = start; i < start + n; i++) {
      const rid = this.pages.get(i)!.rid;
      if (rid !== undefined && !seen.has(rid)) {
        seen.add(rid);
        rs.push(this.ranges.get(rid)!);
      }
    }
    const all = (f: (a: Attrs) => number): number => {
      if (rs.length === 0) return U;
      const v = f(rs[0]!);
      return rs.every((a) => f(a) === v) && v !== U ? v : U;
    };
    const none = rs.length === 0;
    const and = none ? 3 : rs.reduce((m, a) => (m & a.flags) >>> 0, 0xffffffff);
    const or = none ? 3 : rs.reduce((m, a) => (m | a.flags) >>> 0, 0);
    const acc = none ? (this.xnack ? this.supported : 0) : rs.reduce((m, a) => m & a.access, this.supported);
    const aip = none ? 0 : rs.reduce((m, a) => m & a.aip, this.supported);
    return attrs.map((x) => {
      switch (x.type) {
        case T.PREFERRED_LOC: return { type: x.type, value: all((a) => a.preferred) };
        case T.PREFETCH_LOC: return { type: x.type, value: all((a) => a.prefetch) };
        case T.SET_FLAGS: return { type: x.type, value: and };
        case T.CLR_FLAGS: return { type: x.type, value: ~or >>> 0 };
        case T.GRANULARITY: return { type: x.type, value: none ? 9 : Math.min(...rs.map((a) => a.gran)) };
        default: {
          const gi = this.idx(x.value);
          if (gi < 0) throw new NaiveError('EINVAL');
          const bit = 1 << gi;
          return { type: acc & bit ? T.ACCESS : aip & bit ? T.ACCESS_IN_PLACE : T.NO_ACCESS, value: x.value };
        }
      }
    });
  }

  private granule(q: number, rid: number): [number, number] {
    const pages = this.pagesOf(rid);
    const size = 2 ** this.ranges.get(rid)!.gran;
    const down = q - (q % size);
    return [Math.max(down, pages[0]!), Math.min(down + size - 1, pages[pages.length - 1]!)];
  }

  cpu(start: number, n: number): void {
    for (let i = start; i < start + n; i++) if (!this.pages.has(i)) throw new NaiveError('EFAULT');
    for (let i = start; i < start + n; i++) {
      const pg = this.pages.get(i)!;
      if (pg.loc === undefined || this.kinds[pg.loc] !== 'private') continue;
      const [s, l] = this.granule(i, pg.rid!);
      this.toRam(pg.rid!, s, l);
    }
    this.restore();
  }

  /** Returns true when the access ended in a VM fault. */
  gpu(gi: number, start: number, n: number): boolean {
    try {
      for (let i = start; i < start + n; i++) {
        const pg = this.pages.get(i);
        if (pg && pg.maps & (1 << gi)) continue;
        if (!this.xnack || !pg) return true;
        if (pg.rid === undefined) {
          // svm_range_create_unregistered_range: the 2 MiB block around the page within its mapping and
          // between its neighbour ranges.
          const down = i - (i % 512);
          let s = i;
          while (s > down && this.pages.has(s - 1) && this.pages.get(s - 1)!.rid === undefined) s--;
          let e = i;
          while (e < down + 511 && this.pages.has(e + 1) && this.pages.get(e + 1)!.rid === undefined) e++;
          const r = this.rid++;
          this.ranges.set(r, this.newAttrs());
          for (let q = s; q <= e; q++) this.pages.get(q)!.rid = r;
        }
        const rid = pg.rid!;
        const a = this.ranges.get(rid)!;
        const id = this.ids[gi]!;
        let best: number;
        if (this.kinds[gi] === 'apu') best = 0;
        else if (a.preferred === id || a.preferred === 0) best = a.preferred;
        else if (a.preferred !== U && this.idx(a.preferred) >= 0 && this.hive(gi, this.idx(a.preferred))) best = a.preferred;
        else if (a.access & (1 << gi)) best = id;
        else if (a.aip & (1 << gi)) {
          const act = this.actual(rid);
          best = act && this.hive(gi, this.idx(act)) ? act : 0;
        } else return true;
        const [s, l] = this.granule(i, rid);
        if (this.actual(rid) !== 0 || best !== 0) {
          if (best) this.toVram(rid, best, s, l);
          else this.toRam(rid, s, l);
        }
        this.mapRange(rid, gi, s, l);
        if (!(pg.maps & (1 << gi))) return true;
      }
      return false;
    } finally {
      this.restore();
    }
  }

  /** Per-page location as the sim's snapshot names it. */
  where(q: number): string {
    const pg = this.pages.get(q);
    if (!pg) return 'unmapped';
    if (pg.loc === undefined) return 'system';
    return `${this.kinds[pg.loc] === 'coherent' ? 'device-coherent' : 'device-private'}:${this.ids[pg.loc]}`;
  }
}
