/**
 * The store of range rows, which are the buckets of a hash table keyed by first page: under random
 * allocations and releases, with page numbers that share their low or high 32 bits (long probe runs), every
 * key must be found in the row its object names, with its contents intact after rows move (table growth,
 * backward shift on release), and released keys must not be found.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RangeStore, ROW_WORDS, U_PREF } from '../../../src/backend/sim/range-store.js';

interface Obj {
  slot: number;
  s: number;
}

describe('RangeStore (rows in a hash table of first pages)', () => {
  it('gives its rows back after a peak: halves below an eighth used, never below its first size', () => {
    const st = new RangeStore<Obj>(4);
    const objs = Array.from({ length: 4096 }, (_, i) => ({ slot: -1, s: i }));
    for (const o of objs) o.slot = st.alloc(o, o.s * 3, o.s * 3 + 2);
    expect(st.buckets).toBe(8192);
    for (const o of objs.slice(0, 4000)) st.release(o.slot);
    expect(st.size).toBe(96);
    expect(st.buckets).toBeLessThanOrEqual(8 * 96);
    expect(st.buckets).toBeGreaterThanOrEqual(2 * 96);
    // Rows that moved in the shrink are still found where their objects say.
    for (const o of objs.slice(4000)) {
      expect(st.find(o.s * 3)).toBe(o.slot);
      expect(st.last(o.slot)).toBe(o.s * 3 + 2);
    }
    for (const o of objs.slice(4000)) st.release(o.slot);
    expect(st.buckets).toBe(4);
  });

  it('matches a Map under random allocations and releases', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 512, 2 ** 32, 2 ** 40),
        fc.constantFrom(0, 0x7f0000000, 2 ** 51),
        fc.array(fc.record({ del: fc.boolean(), s: fc.nat(400) }), { minLength: 100, maxLength: 900, size: 'max' }),
        (stride, base, ops) => {
          const st = new RangeStore<Obj>(4);
          const ref = new Map<number, Obj>();
          const key = (s: number): number => base + s * stride;
          for (const { del, s } of ops) {
            const k = key(s);
            const o = ref.get(k);
            if (del) {
              if (o === undefined) continue;
              st.release(o.slot);
              ref.delete(k);
            } else if (o === undefined) {
              const n: Obj = { slot: -1, s };
              n.slot = st.alloc(n, k, k + s);
              st.u32[n.slot * ROW_WORDS + U_PREF] = s;
              ref.set(k, n);
            }
            expect(st.size).toBe(ref.size);
          }
          for (let s = 0; s <= 400; s++) {
            const k = key(s);
            const o = ref.get(k);
            if (o === undefined) {
              expect(st.find(k)).toBe(-1);
              continue;
            }
            expect(st.find(k)).toBe(o.slot);
            expect(st.objs[o.slot]).toBe(o);
            expect(st.start(o.slot)).toBe(k);
            expect(st.last(o.slot)).toBe(k + s);
            expect(st.u32[o.slot * ROW_WORDS + U_PREF]).toBe(s);
            expect(st.exact(k, k + s)).toBe(o.slot);
            expect(st.exact(k, k + s + 1)).toBe(-1);
          }
          for (const o of [...ref.values()]) st.release(o.slot);
          expect(st.size).toBe(0);
          for (let s = 0; s <= 400; s++) expect(st.find(key(s))).toBe(-1);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses a second range starting at the same page', () => {
    const st = new RangeStore<Obj>();
    st.alloc({ slot: -1, s: 0 }, 10, 10);
    expect(() => st.alloc({ slot: -1, s: 1 }, 10, 12)).toThrow(/two ranges start at page 10/);
    expect(st.size).toBe(1);
  });
});
