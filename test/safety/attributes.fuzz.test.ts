/**
 * Property tests (fast-check) for the attribute encoding between TypeScript and the ioctl structs:
 *
 * 1. src/attributes.ts: every valid attribute object encodes to kernel pairs that fit the struct (u32 type
 *    and value) and decode back to the same state; every object with one out-of-range or unknown field
 *    is refused with an SvmError before any pair exists, and through the API nothing of such a call
 *    reaches the kernel (here: the simulator), not even its valid fields.
 * 2. The addon's marshalling (native/svm.cc): arbitrary u64 start/size, u32 op and 0..2044 u32 pairs
 *    travel into struct kfd_ioctl_svm_args and back unchanged, with the ioctl's size bits covering exactly
 *    nattr attributes (checked by an LD_PRELOAD shim, test/safety/fake-kfd-shim.c); values that are not
 *    u32/u64 are TypeError/RangeError and never reach ioctl(2).
 *
 * The parsers' property tests live with the parsers (test/unit/platform/properties.test.ts).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { SVM_GRANULARITY_MAX, SvmAttrType } from '../../src/backend/abi.js';
import { FLAG_NAMES, decodeGetAnswer, encodeSetAttributes, type AccessMode, type FlagName } from '../../src/attributes.js';
import { SvmError } from '../../src/errors.js';
import type { Gpu } from '../../src/gpu.js';
import { open } from '../../src/index.js';
import { childResult, fakeKfdShim, runChild } from './child.js';

const U32_MAX = 0xffff_ffff;
const MODES: readonly AccessMode[] = ['access', 'in-place', 'none'];
const KNOWN_TYPES = new Set<number>(Object.values(SvmAttrType));

function gpu(gpuId: number, i: number): Gpu {
  return Object.freeze({
    gpuId, nodeId: i + 1, name: `GPU ${i}`, gfxTarget: 'gfx90a', vramBytes: 2 ** 36, coherent: i % 2 === 0,
    apu: false, xnackCapable: true, svmCapable: true, pciAddress: `0000:${(0xc1 + i).toString(16)}:00.0`, drmRenderMinor: 128 + i,
  } as Gpu);
}

/** 1..8 GPUs with distinct gpu_ids, which the kernel makes 16-bit and non-zero (kfd_generate_gpu_id). */
const gpusArb = fc.uniqueArray(fc.integer({ min: 1, max: 0xffff }), { minLength: 1, maxLength: 8 }).map((ids) => ids.map(gpu));

/** A GPU reference as the API takes it: the Gpu, or its gpu_id. */
const refArb = (gpus: readonly Gpu[]) => fc.constantFrom(...gpus).chain((g) => fc.constantFrom<Gpu | number>(g, g.gpuId));

interface Valid {
  preferredLocation?: 'system' | 'undefined' | Gpu | number;
  prefetchLocation?: 'system' | Gpu | number;
  access?: Array<[Gpu | number, AccessMode]> | Map<Gpu | number, AccessMode>;
  flags?: Partial<Record<FlagName, boolean>>;
  granularity?: number;
}

const validArb = (gpus: readonly Gpu[]): fc.Arbitrary<Valid> =>
  fc.record(
    {
      preferredLocation: fc.oneof(fc.constantFrom<'system' | 'undefined'>('system', 'undefined'), refArb(gpus)),
      prefetchLocation: fc.oneof(fc.constant<'system'>('system'), refArb(gpus)),
      access: fc
        .array(fc.tuple(refArb(gpus), fc.constantFrom(...MODES)), { maxLength: 12 })
        .chain((pairs) => fc.constantFrom<Valid['access']>(pairs, new Map(pairs))),
      flags: fc.record(
        Object.fromEntries(FLAG_NAMES.map((n) => [n, fc.boolean()])) as Record<FlagName, fc.Arbitrary<boolean>>,
        { requiredKeys: [] },
      ),
      granularity: fc.integer({ min: 0, max: SVM_GRANULARITY_MAX }),
    },
    { requiredKeys: [] },
  );

const idOf = (r: Gpu | number) => (typeof r === 'number' ? r : r.gpuId);

describe('src/attributes.ts: encode → decode', () => {
  it('valid attributes encode to u32 pairs of known types, prefetch last, and decode to the same state', () => {
    fc.assert(
      fc.property(gpusArb.chain((gpus) => fc.tuple(fc.constant(gpus), validArb(gpus))), ([gpus, attrs]) => {
        const pairs = encodeSetAttributes(attrs, gpus);
        for (const p of pairs) {
          expect(KNOWN_TYPES.has(p.type)).toBe(true);
          expect(Number.isInteger(p.value) && p.value >= 0 && p.value <= U32_MAX).toBe(true);
        }
        const prefetchAt = pairs.findIndex((p) => p.type === SvmAttrType.PREFETCH_LOC);
        expect(prefetchAt).toBe(attrs.prefetchLocation === undefined ? -1 : pairs.length - 1);

        const state = decodeGetAnswer(pairs, gpus);
        const loc = (v: Valid['preferredLocation']) =>
          v === undefined || v === 'undefined' ? 'undefined' : v === 'system' ? 'system' : gpus.find((g) => g.gpuId === idOf(v));
        expect(state.preferredLocation).toBe(loc(attrs.preferredLocation));
        expect(state.prefetchLocation).toBe(loc(attrs.prefetchLocation));
        const access = new Map<number, AccessMode>();
        for (const [r, m] of attrs.access ?? []) access.set(idOf(r), m); // the later pair for a GPU wins
        expect(state.access).toEqual(access);
        for (const n of FLAG_NAMES) expect(state.flags[n]).toBe(attrs.flags?.[n] ?? 'mixed');
        expect(state.granularity).toBe(attrs.granularity ?? 0);
        // One pair per access entry, at most one per flag word: nothing is dropped or invented.
        const flagWords = Number(Object.values(attrs.flags ?? {}).some((v) => v)) + Number(Object.values(attrs.flags ?? {}).some((v) => !v));
        const expected =
          Number(attrs.preferredLocation !== undefined) + Number(attrs.prefetchLocation !== undefined) +
          [...(attrs.access ?? [])].length + flagWords + Number(attrs.granularity !== undefined);
        expect(pairs).toHaveLength(expected);
      }),
      { numRuns: 500 },
    );
  });
});

/** One bad field, as [key, value] to put into an otherwise valid object. */
const badFieldArb = (gpus: readonly Gpu[]): fc.Arbitrary<[string, unknown]> => {
  const ids = new Set(gpus.map((g) => g.gpuId));
  const unknownId = fc.oneof(
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).filter((n) => !ids.has(n)),
    fc.constantFrom(0, U32_MAX, 2 ** 32, -1, NaN, Infinity, 0.5, Number.MAX_SAFE_INTEGER + 2),
    fc.double().filter((d) => !ids.has(d)),
  );
  const notARef = fc.oneof(
    fc.constantFrom(null, true, false, [], {}, 1n, 'gpu', 'System', 'SYSTEM', ' system', '', Symbol.iterator),
    fc.string().filter((s) => s !== 'system' && s !== 'undefined'),
    fc.bigInt(),
    unknownId.map((gpuId) => ({ gpuId })), // looks like a Gpu, is not one of the device's
    unknownId,
  );
  const badGranularity = fc.oneof(
    fc.integer({ min: SVM_GRANULARITY_MAX + 1 }),
    fc.integer({ max: -1 }),
    fc.double().filter((d) => !(Number.isInteger(d) && d >= 0 && d <= SVM_GRANULARITY_MAX)),
    fc.constantFrom('9', 9n, null, true, [9], { valueOf: () => 9 }, 2 ** 21, 2 ** 32 + 9, 2 ** 64),
  );
  const badMode = fc.oneof(fc.string().filter((s) => !(MODES as readonly string[]).includes(s)), fc.constantFrom(null, 0, 1, true, 'ACCESS', 'in_place'));
  const unknownFlag = fc.string().filter((s) => !(FLAG_NAMES as readonly string[]).includes(s) && s !== '__proto__');
  return fc.oneof(
    fc.tuple(fc.constant('granularity'), badGranularity),
    fc.tuple(fc.constant('preferredLocation'), notARef),
    fc.tuple(fc.constant('prefetchLocation'), fc.oneof(notARef, fc.constant('undefined'))),
    fc.tuple(fc.constant('access'), fc.tuple(refArb(gpus), badMode).map((p) => [p])),
    fc.tuple(fc.constant('access'), notARef.map((r) => [[r, 'access']])),
    fc.tuple(fc.constant('access'), fc.constantFrom<unknown>('access', 1, {}, [['x']], [[1, 'access', 'extra']], [null], new Set([1]))),
    fc.tuple(fc.constant('flags'), unknownFlag.map((n) => ({ [n]: true }))),
    fc.tuple(fc.constant('flags'), fc.tuple(fc.constantFrom(...FLAG_NAMES), fc.constantFrom<unknown>(1, 0, 'true', null, 1n, {})).map(([n, v]) => ({ [n]: v }))),
    fc.tuple(fc.constant('flags'), fc.constantFrom<unknown>(null, 'gpu-exec', 7, ['gpu-exec'], true)),
    fc.tuple(fc.string().filter((k) => !['preferredLocation', 'prefetchLocation', 'access', 'flags', 'granularity', '__proto__'].includes(k)), fc.constant(1)),
  );
};

describe('src/attributes.ts: rejection before the kernel', () => {
  it('an attribute object with any one bad field is refused with EARG or EUNKNOWNGPU', () => {
    fc.assert(
      fc.property(
        gpusArb.chain((gpus) => fc.tuple(fc.constant(gpus), validArb(gpus), badFieldArb(gpus))),
        ([gpus, valid, [key, bad]]) => {
          const attrs: Record<string, unknown> = { ...valid, [key]: bad };
          let err: unknown;
          try {
            encodeSetAttributes(attrs, gpus);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(SvmError);
          expect(['EARG', 'EUNKNOWNGPU']).toContain((err as SvmError).code);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('through the API, a refused set() changes nothing, not even its valid fields (simulator)', async () => {
    const device = await open({ backend: 'sim', profile: 'mi250x' });
    const buf = await device.alloc(1 << 21, { align2M: true });
    const pristine = buf.get();
    await fc.assert(
      fc.asyncProperty(validArb(device.gpus), badFieldArb(device.gpus), async (valid, [key, bad]) => {
        await expect(buf.set({ ...valid, [key]: bad } as never)).rejects.toBeInstanceOf(SvmError);
        expect(buf.get()).toEqual(pristine);
      }),
      { numRuns: 150 },
    );
    buf.free();
    await device.close();
  });
});

describe("the addon's marshalling of struct kfd_ioctl_svm_args", () => {
  let shim = '';
  beforeAll(() => {
    shim = fakeKfdShim();
  });

  it('u64 start/size, u32 op and 0..2044 u32 pairs cross into the ioctl and back intact (sync and async)', () => {
    const r = childResult<{ failure: string | null; runs: number }>(
      runChild(
        `
        const { default: fc } = await import('fast-check');
        const d = addon.kfdOpen('/dev/null');
        const u32 = fc.nat({ max: 0xffffffff });
        const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
        const pairs = fc.oneof(
          { weight: 8, arbitrary: fc.array(fc.record({ type: u32, value: u32 }), { maxLength: 64 }) },
          { weight: 1, arbitrary: fc.array(fc.record({ type: u32, value: u32 }), { minLength: 2000, maxLength: 2044 }) },
        );
        const lo = (x) => Number(x & 0xffffffffn), hi = (x) => Number(x >> 32n);
        let runs = 0;
        const check = (out, start, size, op, attrs) => {
          const mix = (lo(start) ^ hi(start) ^ lo(size) ^ hi(size) ^ op ^ attrs.length) >>> 0;
          if (out.length !== attrs.length) throw new Error('length ' + out.length + ' != ' + attrs.length);
          attrs.forEach((a, i) => {
            if (out[i].type !== a.type || out[i].value !== ((a.value ^ mix) >>> 0)) throw new Error('pair ' + i + ': ' + JSON.stringify(out[i]) + ' for ' + JSON.stringify(a));
          });
        };
        const res = await fc.check(
          fc.asyncProperty(u64, u64, u32, pairs, async (start, size, op, attrs) => {
            runs++;
            check(addon.kfdSvmSync(d, op, start, size, attrs), start, size, op, attrs);
            check(await addon.kfdSvmAsync(d, op, start, size, attrs), start, size, op, attrs);
          }),
          { numRuns: 300, seed: 7 },
        );
        addon.kfdClose(d);
        h.report({ failure: res.failed ? fc.defaultReportMessage(res) ?? 'failed' : null, runs });
      `,
        120_000,
        { preload: shim },
      ),
    );
    expect(r.failure).toBeNull();
    expect(r.runs).toBeGreaterThanOrEqual(300);
  });

  it('values outside u32 / u64 are TypeError or RangeError and never reach ioctl(2)', () => {
    const r = childResult<{ failure: string | null }>(
      runChild(
        `
        const { default: fc } = await import('fast-check');
        const d = addon.kfdOpen('/dev/null');
        const notU32 = fc.oneof(
          fc.integer({ max: -1 }), fc.double({ min: 2 ** 32, noNaN: true }), fc.double({ max: -Number.MIN_VALUE, noNaN: true }),
          fc.double({ min: 0, max: 2 ** 32, noInteger: true }), fc.constantFrom(NaN, Infinity, -Infinity, 2 ** 32, 2 ** 53, 2 ** 64),
          fc.constantFrom('1', 1n, null, undefined, true, {}, []),
        );
        const notU64 = fc.oneof(fc.bigInt({ max: -1n }), fc.bigInt({ min: 2n ** 64n }), fc.constantFrom(0, 4096, '4096', null, undefined, 1.5));
        const ok = fc.record({ type: fc.nat({ max: 0xffffffff }), value: fc.nat({ max: 0xffffffff }) });
        const refused = (f) => { try { f(); } catch (e) { return e instanceof TypeError || e instanceof RangeError; } return false; };
        const res = fc.check(
          fc.property(
            fc.array(ok, { maxLength: 8 }), fc.nat({ max: 7 }),
            fc.oneof(
              fc.tuple(fc.constantFrom('type', 'value', 'op'), notU32),
              fc.tuple(fc.constantFrom('start', 'size'), notU64),
            ),
            (attrs, at, [where, bad]) => {
              const args = [d, 1, 4096n, 4096n, attrs.map((a) => ({ ...a }))];
              if (where === 'op') args[1] = bad;
              else if (where === 'start') args[2] = bad;
              else if (where === 'size') args[3] = bad;
              else {
                if (args[4].length === 0) args[4].push({ type: 0, value: 0 });
                args[4][at % args[4].length][where] = bad;
              }
              // Reaching the shim would return the pairs (no throw); a refusal before ioctl throws.
              if (!refused(() => addon.kfdSvmSync(...args))) throw new Error('sync accepted ' + where + '=' + String(bad));
              if (!refused(() => addon.kfdSvmAsync(...args))) throw new Error('async accepted ' + where + '=' + String(bad));
            },
          ),
          { numRuns: 1000, seed: 11 },
        );
        addon.kfdClose(d);
        h.report({ failure: res.failed ? fc.defaultReportMessage(res) ?? 'failed' : null });
      `,
        120_000,
        { preload: shim },
      ),
    );
    expect(r.failure).toBeNull();
  });

  it('the shim itself answers (so the refusals above are not ENOTTY in disguise)', () => {
    const r = childResult<{ out: unknown }>(
      runChild(`
        const d = addon.kfdOpen('/dev/null');
        h.report({ out: addon.kfdSvmSync(d, 3, 0x100000000n, 0x2000n, [{ type: 1, value: 5 }]) });
      `, 30_000, { preload: shim }),
    );
    // mix = lo(start) 0 ^ hi(start) 1 ^ lo(size) 0x2000 ^ 0 ^ op 3 ^ nattr 1 = 0x2003; 5 ^ 0x2003 = 0x2006
    expect(r.out).toEqual([{ type: 1, value: 0x2006 }]);
  });
});
