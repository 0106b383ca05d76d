/**
 * The store of range rows and its hash index (first page → slot): under random allocations and releases,
 * with page numbers that share their low or high 32 bits (long probe runs), every key must be found with
 * its row intact, released keys must not be, and rows must survive the buffer growing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RangeStore, ROW_WORDS, U_PREF } from '../../../src/backend/sim/range-store.js';

describe('RangeStore (rows + hash index of first pages)', () => {
  it('matches a Map under random allocations and releases', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 512, 2 ** 32, 2 ** 40),
        fc.constantFrom(0, 0x7f0000000, 2 ** 51),
        fc.array(fc.record({ del: fc.boolean(), s: fc.nat(400) }), { minLength: 100, maxLength: 900, size: 'max' }),
        (stride, base, ops) => {
          const st = new RangeStore<number>(4);
          const ref = new Map<number, number>(); // key → slot
          const key = (s: number): number => base + s * stride;
          for (const { del, s } of ops) {
            const k = key(s);
            const slot = ref.get(k);
            if (del) {
              if (slot === undefined) continue;
              st.release(slot);
              ref.delete(k);
            } else if (slot === undefined) {
              const n = st.alloc(s, k, k + s);
              st.u32[n * ROW_WORDS + U_PREF] = s;
              ref.set(k, n);
            }
            expect(st.size).toBe(ref.size);
          }
          for (let s = 0; s <= 400; s++) {
            const k = key(s);
            const slot = ref.get(k);
            if (slot === undefined) {
              expect(st.find(k)).toBe(-1);
              continue;
            }
            expect(st.find(k)).toBe(slot);
            expect(st.objs[slot]).toBe(s);
            expect(st.start(slot)).toBe(k);
            expect(st.last(slot)).toBe(k + s);
            expect(st.u32[slot * ROW_WORDS + U_PREF]).toBe(s);
            expect(st.exact(k, k + s)).toBe(slot);
            expect(st.exact(k, k + s + 1)).toBe(-1);
          }
          // Released slots are reused: no more rows than the most keys held at once.
          for (const slot of ref.values()) st.release(slot);
          expect(st.size).toBe(0);
          for (let s = 0; s <= 400; s++) expect(st.find(key(s))).toBe(-1);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses a second range starting at the same page', () => {
    const st = new RangeStore<string>();
    st.alloc('a', 10, 10);
    expect(() => st.alloc('b', 10, 12)).toThrow(/two ranges start at page 10/);
  });
});
