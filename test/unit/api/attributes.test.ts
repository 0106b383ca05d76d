import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SvmAttrType, SvmFlag, SvmLocation } from '../../../src/backend/abi.js';
import {
  FLAG_NAMES,
  decodeGetAnswer,
  encodeSetAttributes,
  flagBit,
  flagNames,
  getQuery,
  type FlagName,
} from '../../../src/attributes.js';
import type { Gpu } from '../../../src/gpu.js';
import { code } from './svm-error-code.js';

function gpu(gpuId: number, nodeId: number): Gpu {
  return Object.freeze({
    gpuId,
    nodeId,
    name: `GPU ${nodeId}`,
    gfxTarget: 'gfx90a',
    vramBytes: 64 * 2 ** 30,
    coherent: true,
    apu: false,
    xnackCapable: true,
    svmCapable: true,
    pciAddress: `0000:${(0xc0 + nodeId).toString(16)}:00.0`,
    drmRenderMinor: 127 + nodeId,
  });
}
const g1 = gpu(0x1111, 1);
const g2 = gpu(0x2222, 2);
const gpus = [g1, g2];


describe('encodeSetAttributes', () => {
  it('encodes every field into one array of kernel pairs, prefetch last', () => {
    const pairs = encodeSetAttributes(
      {
        prefetchLocation: g2,
        preferredLocation: 'system',
        access: [
          [g1, 'in-place'],
          [0x2222, 'none'],
        ],
        flags: { 'gpu-read-mostly': true, coherent: false, 'gpu-exec': true },
        granularity: 4,
      },
      gpus,
    );
    expect(pairs).toEqual([
      { type: SvmAttrType.PREFERRED_LOC, value: SvmLocation.SYSMEM },
      { type: SvmAttrType.ACCESS_IN_PLACE, value: 0x1111 },
      { type: SvmAttrType.NO_ACCESS, value: 0x2222 },
      { type: SvmAttrType.SET_FLAGS, value: SvmFlag.GPU_READ_MOSTLY | SvmFlag.GPU_EXEC },
      { type: SvmAttrType.CLR_FLAGS, value: SvmFlag.COHERENT },
      { type: SvmAttrType.GRANULARITY, value: 4 },
      { type: SvmAttrType.PREFETCH_LOC, value: 0x2222 },
    ]);
  });

  it("encodes 'undefined' as the preferred location and access from a Map", () => {
    expect(
      encodeSetAttributes({ preferredLocation: 'undefined', access: new Map([[g1, 'access' as const]]) }, gpus),
    ).toEqual([
      { type: SvmAttrType.PREFERRED_LOC, value: SvmLocation.UNDEFINED },
      { type: SvmAttrType.ACCESS, value: 0x1111 },
    ]);
  });

  it('an empty object is an empty SET (the kernel registers the range with defaults)', () => {
    expect(encodeSetAttributes({}, gpus)).toEqual([]);
  });

  it('rejects what the kernel struct cannot say or the API would misread', () => {
    expect(code(() => encodeSetAttributes({ prefetchLocation: 'undefined' }, gpus))).toBe('EARG');
    expect(code(() => encodeSetAttributes({ preferredLocation: 'vram' }, gpus))).toBe('EARG');
    expect(code(() => encodeSetAttributes({ preferredLocation: 0x9999 }, gpus))).toBe('EUNKNOWNGPU');
    expect(code(() => encodeSetAttributes({ access: [[0x9999, 'access']] }, gpus))).toBe('EUNKNOWNGPU');
    expect(code(() => encodeSetAttributes({ access: [[g1, 'read']] }, gpus))).toBe('EARG');
    expect(code(() => encodeSetAttributes({ access: [g1] }, gpus))).toBe('EARG');
    expect(code(() => encodeSetAttributes({ flags: { dirty: true } }, gpus))).toBe('EARG');
    expect(code(() => encodeSetAttributes({ flags: { coherent: 1 } }, gpus))).toBe('EARG');
    expect(code(() => encodeSetAttributes({ granularity: 64 }, gpus))).toBe('EARG');
    expect(code(() => encodeSetAttributes({ granularity: 2 * 2 ** 20 }, gpus))).toBe('EARG');
    expect(code(() => encodeSetAttributes({ granularity: -1 }, gpus))).toBe('EARG');
    expect(code(() => encodeSetAttributes({ granularity: 1.5 }, gpus))).toBe('EARG');
    expect(code(() => encodeSetAttributes({ prefetch: 'system' }, gpus))).toBe('EARG');
    expect(code(() => encodeSetAttributes(null, gpus))).toBe('EARG');
  });

  it('accepts granularity 0 and 63, the kernel\'s bounds', () => {
    expect(encodeSetAttributes({ granularity: 0 }, gpus)).toEqual([{ type: SvmAttrType.GRANULARITY, value: 0 }]);
    expect(encodeSetAttributes({ granularity: 63 }, gpus)).toEqual([{ type: SvmAttrType.GRANULARITY, value: 63 }]);
  });
});

describe('decodeGetAnswer', () => {
  it('decodes locations, access types rewritten by the kernel, flags and granularity', () => {
    const st = decodeGetAnswer(
      [
        { type: SvmAttrType.PREFERRED_LOC, value: 0x2222 },
        { type: SvmAttrType.PREFETCH_LOC, value: SvmLocation.UNDEFINED },
        { type: SvmAttrType.SET_FLAGS, value: SvmFlag.HOST_ACCESS },
        { type: SvmAttrType.CLR_FLAGS, value: ~(SvmFlag.HOST_ACCESS | SvmFlag.COHERENT) >>> 0 },
        { type: SvmAttrType.GRANULARITY, value: 9 },
        { type: SvmAttrType.ACCESS_IN_PLACE, value: 0x1111 },
        { type: SvmAttrType.NO_ACCESS, value: 0x2222 },
      ],
      gpus,
    );
    expect(st.preferredLocation).toBe(g2);
    expect(st.prefetchLocation).toBe('undefined');
    expect(st.granularity).toBe(9);
    expect([...st.access]).toEqual([
      [0x1111, 'in-place'],
      [0x2222, 'none'],
    ]);
    expect(st.flags['host-access']).toBe(true);
    expect(st.flags.coherent).toBe('mixed');
    expect(st.flags['gpu-exec']).toBe(false);
  });

  it('rejects a location naming a GPU the device does not have', () => {
    expect(code(() => decodeGetAnswer([{ type: SvmAttrType.PREFERRED_LOC, value: 0x4242 }], gpus))).toBe('EUNKNOWNGPU');
  });

  it('getQuery asks for everything, with one ACCESS pair per GPU', () => {
    const q = getQuery(gpus);
    expect(q.map((p) => p.type)).toEqual([
      SvmAttrType.PREFERRED_LOC,
      SvmAttrType.PREFETCH_LOC,
      SvmAttrType.SET_FLAGS,
      SvmAttrType.CLR_FLAGS,
      SvmAttrType.GRANULARITY,
      SvmAttrType.ACCESS,
      SvmAttrType.ACCESS,
    ]);
    expect(q.slice(5).map((p) => p.value)).toEqual([0x1111, 0x2222]);
  });

  it('flag records round-trip through the kernel words (property)', () => {
    const flagRecord = fc.record(
      Object.fromEntries(FLAG_NAMES.map((n) => [n, fc.boolean()])) as Record<FlagName, fc.Arbitrary<boolean>>,
    );
    fc.assert(
      fc.property(flagRecord, (flags) => {
        const pairs = encodeSetAttributes({ flags }, gpus);
        let set = 0;
        let clr = 0;
        for (const p of pairs) {
          if (p.type === SvmAttrType.SET_FLAGS) set = p.value;
          if (p.type === SvmAttrType.CLR_FLAGS) clr = p.value;
        }
        // What a kernel answers for one range holding exactly these flags: SET = flags, CLR = ~flags.
        const st = decodeGetAnswer(
          [
            { type: SvmAttrType.SET_FLAGS, value: set },
            { type: SvmAttrType.CLR_FLAGS, value: ~set >>> 0 },
          ],
          gpus,
        );
        expect(st.flags).toEqual(flags);
        expect(set & clr).toBe(0);
        expect(flagNames(set)).toEqual(FLAG_NAMES.filter((n) => flags[n]));
      }),
    );
  });

  it('flag bits match the ABI', () => {
    expect(FLAG_NAMES.map(flagBit)).toEqual([0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80]);
  });
});
