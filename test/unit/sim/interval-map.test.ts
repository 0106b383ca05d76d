/** The interval structures against plain arrays: same answers after random operations. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntervalMap, RunMap } from '../../../src/backend/sim/interval-map.js';

describe('RunMap', () => {
  it('matches a per-page array under random assigns, and keeps runs maximal', () => {
    const N = 64;
    fc.assert(
      fc.property(
        fc.array(fc.record({ a: fc.nat(N - 1), len: fc.integer({ min: 1, max: 16 }), v: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }) }), { maxLength: 40 }),
        (ops) => {
          const m = new RunMap<number>();
          const ref: Array<number | undefined> = new Array(N).fill(undefined);
          for (const { a, len, v } of ops) {
            const b = Math.min(N, a + len);
            m.assign(a, b, v);
            for (let i = a; i < b; i++) ref[i] = v;
          }
          for (let i = 0; i < N; i++) expect(m.at(i)).toBe(ref[i]);
          const runs = m.all();
          for (let i = 1; i < runs.length; i++) {
            const p = runs[i - 1]!;
            const c = runs[i]!;
            expect(p.end <= c.start).toBe(true);
            if (p.end === c.start) expect(p.value).not.toBe(c.value); // equal neighbours are merged
          }
          const gap = m.firstGap(0, N);
          const firstAbsent = ref.findIndex((x) => x === undefined);
          expect(gap?.start ?? -1).toBe(firstAbsent);
          expect(m.count(0, N)).toBe(ref.filter((x) => x !== undefined).length);
        },
      ),
    );
  });
});

describe('IntervalMap', () => {
  it('finds, walks and deletes like a sorted array', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(200), { maxLength: 60 }), fc.array(fc.nat(210), { maxLength: 20 }), (starts, probes) => {
        const m = new IntervalMap<number>();
        const sorted = [...starts].sort((x, y) => x - y);
        // Each interval is [s, s+1): disjoint by construction.
        for (const s of starts) m.insert(s * 2, s * 2 + 1, s);
        expect(m.size).toBe(starts.length);
        expect(m.all().map((i) => i.value)).toEqual(sorted);
        for (const p of probes) {
          const f = m.floor(p * 2);
          const ref = sorted.filter((s) => s * 2 <= p * 2).pop();
          expect(f?.value).toBe(ref);
          expect(m.overlapping(p * 2, p * 2 + 20).map((i) => i.value)).toEqual(sorted.filter((s) => s * 2 + 1 > p * 2 && s * 2 < p * 2 + 20));
        }
        for (const s of starts.slice(0, starts.length >> 1)) expect(m.delete(s * 2)).toBe(true);
        expect(m.all().map((i) => i.value)).toEqual([...starts.slice(starts.length >> 1)].sort((x, y) => x - y));
      }),
    );
  });

  it('stays balanced: after 100k sorted inserts and half deleted the height is O(log n), not O(n)', () => {
    const m = new IntervalMap<number>();
    const n = 100_000;
    for (let i = 0; i < n; i++) m.insert(i * 2, i * 2 + 1, i);
    expect(m.depth()).toBeLessThan(4 * Math.log2(n));
    for (let i = 0; i < n; i += 2) m.delete(i * 2);
    expect(m.size).toBe(n / 2);
    expect(m.depth()).toBeLessThan(4 * Math.log2(n));
    expect(m.at(199_998)?.value).toBe(99_999);
    expect(m.first(1, 4)?.value).toBe(1);
  });
});
