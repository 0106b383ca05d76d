/**
 * Differential property test: random sequences of set / get / prefetch / CPU and GPU access / free /
 * XNACK changes on the sim and on the naive per-page model (naive-model.ts) give the same answers,
 * errors included, the same range boundaries and the same page locations after every step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SvmAttrType as T, SvmLocation } from '../../../src/backend/abi.js';
import type { SvmAttribute } from '../../../src/backend/contract.js';
import type { MappedMemory } from '../../../src/backend/contract.js';
import type { MachineProfile } from '../../../src/platform/profile-types.js';
import { A, B, gpu, machine, simWithVms, twoGpus } from './fixtures.js';
import { NaiveError, NaiveModel } from './naive-model.js';

const PAGES = 16;
const ALLOCS = 3;
const WINDOW = PAGES * ALLOCS + 2;

const locValue = fc.constantFrom(0, SvmLocation.UNDEFINED, A, B, 0x9999);
const attr: fc.Arbitrary<SvmAttribute> = fc.oneof(
  fc.record({ type: fc.constantFrom(T.PREFERRED_LOC, T.PREFETCH_LOC), value: locValue }),
  fc.record({ type: fc.constantFrom(T.ACCESS, T.ACCESS_IN_PLACE, T.NO_ACCESS), value: fc.constantFrom(A, B, 0x9999) }),
  fc.record({ type: fc.constantFrom(T.SET_FLAGS, T.CLR_FLAGS), value: fc.integer({ min: 0, max: 0x7f }) }),
  fc.record({ type: fc.constant(T.GRANULARITY), value: fc.constantFrom(0, 1, 2, 3, 9, 70) }),
  fc.record({ type: fc.constantFrom(8, 99), value: fc.constant(0) }),
);
const getAttr: fc.Arbitrary<SvmAttribute> = fc.oneof(
  fc.record({ type: fc.constantFrom(T.PREFERRED_LOC, T.PREFETCH_LOC, T.SET_FLAGS, T.CLR_FLAGS, T.GRANULARITY), value: fc.constant(0) }),
  fc.record({ type: fc.constantFrom(T.ACCESS, T.ACCESS), value: fc.constantFrom(A, B, 0x9999) }),
  fc.record({ type: fc.constantFrom(T.ACCESS_IN_PLACE, T.NO_ACCESS), value: fc.constant(A) }),
);
const span = fc.record({ at: fc.nat(WINDOW - 1), len: fc.integer({ min: 1, max: 10 }) });

type Op =
  | { op: 'set'; at: number; len: number; attrs: SvmAttribute[] }
  | { op: 'get'; at: number; len: number; attrs: SvmAttribute[] }
  | { op: 'cpu'; at: number; len: number }
  | { op: 'gpu'; at: number; len: number; g: number }
  | { op: 'free'; i: number }
  | { op: 'xnack'; on: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), attrs: fc.array(attr, { maxLength: 3 }) }).chain((o) => span.map((s) => ({ ...o, ...s }))) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('get' as const), attrs: fc.array(getAttr, { maxLength: 3 }) }).chain((o) => span.map((s) => ({ ...o, ...s }))) },
  { weight: 2, arbitrary: span.map((s) => ({ op: 'cpu' as const, ...s })) },
  { weight: 2, arbitrary: fc.record({ g: fc.nat(1) }).chain((o) => span.map((s) => ({ op: 'gpu' as const, ...o, ...s }))) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('free' as const), i: fc.nat(ALLOCS - 1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('xnack' as const), on: fc.boolean() }) },
);

async function outcome<R>(f: () => R | Promise<R>): Promise<{ ok: R } | { err: string }> {
  try {
    return { ok: await f() };
  } catch (e) {
    if (e instanceof NaiveError) return { err: e.code };
    const code = (e as { code?: string }).code;
    if (code) return { err: code };
    throw e;
  }
}

async function run(profile: MachineProfile, ops: Op[]): Promise<void> {
  const b = simWithVms(profile);
  const mems: MappedMemory[] = [];
  for (let i = 0; i < ALLOCS; i++) mems.push(b.alloc(PAGES * 4096));
  // The allocations are adjacent, top-down: the window starts one page below the lowest.
  const base = Number(mems[ALLOCS - 1]!.address >> 12n) - 1;
  const naive = new NaiveModel(profile, 512);
  for (const m of mems) naive.map(Number(m.address >> 12n), PAGES);
  const addr = (page: number): bigint => BigInt(base + page) << 12n;

  for (const [step, o] of ops.entries()) {
    const where = `step ${step}: ${JSON.stringify(o)}`;
    let sim: unknown;
    let ref: unknown;
    switch (o.op) {
      case 'set':
        sim = await outcome(() => b.svmSetAttr(addr(o.at), BigInt(o.len) << 12n, o.attrs));
        ref = await outcome(() => naive.set(base + o.at, o.len, o.attrs));
        break;
      case 'get':
        sim = await outcome(() => b.svmGetAttr(addr(o.at), BigInt(o.len) << 12n, o.attrs));
        ref = await outcome(() => naive.get(base + o.at, o.len, o.attrs));
        break;
      case 'cpu':
        sim = await outcome(() => b.cpuAccess(addr(o.at), BigInt(o.len) << 12n, 'read'));
        ref = await outcome(() => naive.cpu(base + o.at, o.len));
        break;
      case 'gpu': {
        const id = profile.gpus[o.g]!.gpuId;
        sim = await outcome(async () => (await b.gpuAccess(id, addr(o.at), BigInt(o.len) << 12n, 'read')).vmFault);
        ref = await outcome(() => naive.gpu(o.g, base + o.at, o.len));
        break;
      }
      case 'free':
        mems[o.i]!.free();
        naive.unmap(Number(mems[o.i]!.address >> 12n), PAGES);
        if (!naive.pages.has(Number(mems[o.i]!.address >> 12n))) break;
        break;
      case 'xnack':
        b.setXnack(o.on);
        naive.xnack = o.on;
        break;
    }
    expect(sim, where).toEqual(ref);
    // Same range boundaries.
    const simRanges = b.ranges().map((r) => [Number(r.start >> 12n) - base, Number(r.size >> 12n)]);
    const seen = new Set<number>();
    const refRanges: number[][] = [];
    for (let p = 0; p < WINDOW; p++) {
      const rid = naive.pages.get(base + p)?.rid;
      if (rid === undefined || seen.has(rid)) continue;
      seen.add(rid);
      refRanges.push([p, naive.pagesOf(rid).length]);
    }
    expect(simRanges, where).toEqual(refRanges);
    // Same page locations.
    const simWhere: string[] = new Array(WINDOW).fill('unmapped');
    for (const r of b.snapshot(addr(0), BigInt(WINDOW) << 12n)) {
      const s = Number(r.start >> 12n) - base;
      for (let p = s; p < s + Number(r.size >> 12n); p++) simWhere[p] = r.gpuId ? `${r.location}:${r.gpuId}` : r.location;
    }
    const refWhere = Array.from({ length: WINDOW }, (_, p) => naive.where(base + p));
    expect(simWhere, where).toEqual(refWhere);
  }
}

describe('sim = naive per-page model', () => {
  it('private + coherent GPUs, no hive', async () => {
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(opArb, { minLength: 1, maxLength: 25 }), async (x, ops) => {
      await run(twoGpus({ xnackDefault: x }), ops);
    }), { numRuns: 200 });
  });

  it('two coherent GPUs in one hive, and an APU', async () => {
    const hive = machine([
      gpu({ gpuId: A, drmRenderMinor: 128, memoryKind: 'coherent', hiveId: 3n }),
      gpu({ gpuId: B, drmRenderMinor: 129, memoryKind: 'apu', hiveId: 0n }),
    ]);
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(opArb, { minLength: 1, maxLength: 25 }), async (x, ops) => {
      await run({ ...hive, xnackDefault: x }, ops);
    }), { numRuns: 200 });
  });

  it('two private GPUs in one hive', async () => {
    const p = machine([
      gpu({ gpuId: A, drmRenderMinor: 128, memoryKind: 'private', hiveId: 5n }),
      gpu({ gpuId: B, drmRenderMinor: 129, memoryKind: 'private', hiveId: 5n }),
    ]);
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(opArb, { minLength: 1, maxLength: 25 }), async (x, ops) => {
      await run({ ...p, xnackDefault: x }, ops);
    }), { numRuns: 200 });
  });
});
