/**
 * The B+ tree under IntervalMap with tiny nodes (capacity 4..6), so a few dozen intervals already split,
 * borrow, merge and collapse the root: every answer must match a sorted array after each operation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntervalMap } from '../../../src/backend/sim/interval-map.js';

describe('IntervalMap B+ tree (small nodes)', () => {
  it('matches a sorted array under random inserts and deletes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 6 }),
        fc.array(fc.record({ del: fc.boolean(), s: fc.nat(120) }), { minLength: 60, maxLength: 300, size: 'max' }),
        (cap, ops) => {
          const m = new IntervalMap<number>(cap);
          const ref = new Set<number>();
          for (const { del, s } of ops) {
            if (del) expect(m.delete(s * 2)).toBe(ref.delete(s));
            else if (!ref.has(s)) {
              ref.add(s);
              m.insert(s * 2, s * 2 + 1, s);
            }
            expect(m.size).toBe(ref.size);
          }
          const sorted = [...ref].sort((x, y) => x - y);
          expect(m.all().map((i) => i.value)).toEqual(sorted);
          // Every page, so the windows a deleted smallest key leaves below a leaf are probed too.
          for (let p = 0; p <= 250; p++) {
            expect(m.floor(p)?.value).toBe(sorted.filter((s) => s * 2 <= p).pop());
            expect(m.after(p)?.value).toBe(sorted.find((s) => s * 2 > p));
            expect(m.at(p)?.value).toBe(p % 2 === 0 && ref.has(p / 2) ? p / 2 : undefined);
            const inSpan = sorted.filter((s) => s * 2 + 1 > p && s * 2 < p + 9);
            expect(m.overlapping(p, p + 9).map((i) => i.value)).toEqual(inSpan);
            expect(m.first(p, p + 9)?.value).toBe(inSpan[0]);
          }
          // Deleting everything leaves an empty tree of one level.
          for (const s of sorted) expect(m.delete(s * 2)).toBe(true);
          expect(m.size).toBe(0);
          expect(m.depth()).toBe(1);
          expect(m.floor(1000)).toBeUndefined();
        },
      ),
    );
  });

  it('answers right when lookups and changes interleave (the last leaf is reused only while still valid)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 6 }),
        fc.array(fc.record({ op: fc.integer({ min: 0, max: 2 }), s: fc.nat(120), q: fc.nat(250) }), {
          minLength: 60,
          maxLength: 400,
          size: 'max',
        }),
        (cap, ops) => {
          const m = new IntervalMap<number>(cap);
          const ref = new Set<number>();
          for (const { op, s, q } of ops) {
            // A lookup right before the change leaves the leaf of `q` (or of s's neighbourhood) remembered.
            m.at(q);
            if (op === 0) expect(m.delete(s * 2)).toBe(ref.delete(s));
            else if (!ref.has(s)) {
              ref.add(s);
              m.insert(s * 2, s * 2 + 1, s);
            }
            const sorted = [...ref].sort((x, y) => x - y);
            for (const p of [q, s * 2, s * 2 + 1, q + 7]) {
              expect(m.floor(p)?.value).toBe(sorted.filter((v) => v * 2 <= p).pop());
              expect(m.after(p)?.value).toBe(sorted.find((v) => v * 2 > p));
            }
          }
          expect(m.all().map((i) => i.value)).toEqual([...ref].sort((x, y) => x - y));
        },
      ),
    );
  });

  it('refuses a node capacity below 4', () => {
    expect(() => new IntervalMap<number>(3)).toThrow(RangeError);
  });
});
