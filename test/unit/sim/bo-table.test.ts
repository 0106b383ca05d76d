/**
 * The BO records (bo-table.ts) against a model made of plain objects and arrays: under random
 * allocations, frees, member changes and LRU moves across the record table's growth, every BO keeps its
 * GPU, size and liveness, its member list in svm_bo->range_list's order (a range joins at the head, as
 * list_add puts it; a move keeps the rest in order), each VRAM pool's LRU its order (TTM picks the head;
 * the XCPs of a memory partition share a pool), and a freed id comes back before a new one is made.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoTable } from '../../../src/backend/sim/bo-table.js';

interface ModelBo {
  gpu: number;
  pages: number;
  members: number[];
}

const GPUS = 3;
/** GPUs 0 and 1 are XCPs of one memory partition (one VRAM pool); GPU 2 has its own. */
const POOL_OF = [0, 0, 1];
const POOLS = 2;

describe('BoTable (svm_range_bo records and the TTM LRU)', () => {
  it('reuses a freed id, most recently freed first, before growing', () => {
    const t = new BoTable([0]);
    const ids = Array.from({ length: 100 }, (_, i) => t.alloc(0, 1, 1000 + i));
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // The records made before the table grew (past 64) kept their contents.
    expect(t.members(0)).toEqual([1000]);
    expect(t.members(63)).toEqual([1063]);
    t.free(7);
    t.free(42);
    expect(t.alloc(0, 2, 5)).toBe(42);
    expect(t.alloc(0, 3, 6)).toBe(7);
    expect(t.alloc(0, 4, 7)).toBe(100);
    // A reused record starts clean: one member (the range it was made for), live, off the LRU.
    expect(t.members(7)).toEqual([6]);
    expect(t.pages(7)).toBe(3);
    expect(t.live(7)).toBe(true);
    expect(t.takeVictim(0, -1)).toBe(-1);
  });

  it('keeps page numbers above 2^32 exact as members', () => {
    const t = new BoTable([0]);
    const big = 2 ** 35 + 12345;
    const id = t.alloc(0, 8, big);
    t.addMember(id, big + 4);
    expect(t.members(id)).toEqual([big + 4, big]);
    t.deleteMember(id, big);
    expect(t.members(id)).toEqual([big + 4]);
    expect(t.memberCount(id)).toBe(1);
  });

  it('matches a model of objects under random operations', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('alloc' as const), gpu: fc.nat(GPUS - 1), pages: fc.integer({ min: 1, max: 1 << 20 }), start: fc.nat(1000) }),
      fc.record({ k: fc.constant('free' as const), pick: fc.nat() }),
      fc.record({ k: fc.constant('add' as const), pick: fc.nat(), start: fc.nat(1000) }),
      fc.record({ k: fc.constant('del' as const), pick: fc.nat(), m: fc.nat() }),
      fc.record({ k: fc.constant('move' as const), pick: fc.nat(), m: fc.nat(), to: fc.nat() }),
      fc.record({ k: fc.constant('move' as const), pick: fc.nat(), m: fc.nat(), to: fc.nat() }),
      fc.record({ k: fc.constant('touch' as const), pick: fc.nat() }),
      fc.record({ k: fc.constant('unlru' as const), pick: fc.nat() }),
      fc.record({ k: fc.constant('victim' as const), pool: fc.nat(POOLS - 1), except: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 50, maxLength: 400 }), (ops) => {
        const t = new BoTable(POOL_OF);
        const live = new Map<number, ModelBo>();
        // One LRU per pool: the XCPs of a memory partition evict from one list.
        const lru: number[][] = Array.from({ length: POOLS }, () => []);
        const freed: number[] = [];
        let next = 0;
        const pickLive = (n: number): number | undefined => {
          const ids = [...live.keys()];
          return ids.length ? ids[n % ids.length] : undefined;
        };
        const offLru = (id: number): void => {
          for (const l of lru) {
            const i = l.indexOf(id);
            if (i >= 0) l.splice(i, 1);
          }
        };
        for (const o of ops) {
          switch (o.k) {
            case 'alloc': {
              const want = freed.length ? freed.pop()! : next++;
              expect(t.alloc(o.gpu, o.pages, o.start)).toBe(want);
              live.set(want, { gpu: o.gpu, pages: o.pages, members: [o.start] });
              break;
            }
            case 'free': {
              const id = pickLive(o.pick);
              if (id === undefined) break;
              // The caller's contract: off the LRU first.
              t.lruRemove(id);
              offLru(id);
              t.free(id);
              live.delete(id);
              freed.push(id);
              break;
            }
            case 'add': {
              const id = pickLive(o.pick);
              if (id === undefined) break;
              t.addMember(id, o.start);
              const m = live.get(id)!.members;
              if (!m.includes(o.start)) m.unshift(o.start);
              break;
            }
            case 'move': {
              // A range leaves the list and one that joined after it takes its place (svm_range_unmap_split:
              // the piece left in prange keeps prange's place).
              const id = pickLive(o.pick);
              if (id === undefined) break;
              const m = live.get(id)!.members;
              if (m.length < 2) break;
              const i = 1 + (o.m % (m.length - 1));
              const j = o.to % i;
              const [a, b] = [m[i]!, m[j]!];
              const place = t.placeOf(id, a);
              expect(place).toBeGreaterThanOrEqual(0);
              expect(t.placeOf(id, b)).toBeGreaterThan(place); // it joined later
              t.deleteMember(id, a);
              t.setPlace(id, b, place);
              expect(t.placeOf(id, a)).toBe(-1);
              m.splice(i, 1);
              m.splice(j, 1);
              m.splice(i - 1, 0, b);
              break;
            }
            case 'del': {
              const id = pickLive(o.pick);
              if (id === undefined) break;
              const m = live.get(id)!.members;
              const start = m.length ? m[o.m % m.length]! : 0;
              t.deleteMember(id, start);
              const i = m.indexOf(start);
              if (i >= 0) m.splice(i, 1);
              break;
            }
            case 'touch': {
              const id = pickLive(o.pick);
              if (id === undefined) break;
              t.lruRemove(id);
              t.lruAppend(id);
              offLru(id);
              lru[POOL_OF[live.get(id)!.gpu]!]!.push(id);
              break;
            }
            case 'unlru': {
              const id = pickLive(o.pick);
              if (id === undefined) break;
              t.lruRemove(id);
              offLru(id);
              break;
            }
            case 'victim': {
              const l = lru[o.pool]!;
              const except = l.length ? l[o.except % l.length]! : -1;
              const want = l.find((id) => id !== except) ?? -1;
              expect(t.takeVictim(o.pool, except)).toBe(want);
              if (want >= 0) l.splice(l.indexOf(want), 1);
              break;
            }
          }
        }
        for (const [id, b] of live) {
          expect(t.live(id)).toBe(true);
          expect(t.gpu(id)).toBe(b.gpu);
          expect(t.pages(id)).toBe(b.pages);
          expect(t.members(id)).toEqual(b.members);
          expect(t.memberCount(id)).toBe(b.members.length);
        }
        for (const id of freed) expect(t.live(id)).toBe(false);
        // Each pool's LRU, drained from the head, in the model's order.
        for (let p = 0; p < POOLS; p++) {
          const got: number[] = [];
          for (let id = t.takeVictim(p, -1); id >= 0; id = t.takeVictim(p, -1)) got.push(id);
          expect(got).toEqual(lru[p]);
        }
      }),
      { numRuns: 200 },
    );
  });
});
