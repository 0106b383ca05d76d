/**
 * The addon's errno mode (native/errors.h): the per-operation ioctl calls with a trailing `true` return a
 * refusal as -errno instead of throwing it, and the kfd backend builds the one KernelError from it. The
 * throwing mode (no flag) is what every other caller, the misuse matrix and the leak tests see, so the two
 * modes must agree on everything but the way the refusal travels: the same errno, the same success values,
 * and (through the backend) the same error fields and message.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Errno, SvmAttrType, SvmOp } from '../../src/backend/abi.js';
import { KernelError } from '../../src/backend/errors.js';
import { openKfdBackend } from '../../src/backend/kfd/index.js';
import { childResult, fakeKfdShim, runChild } from '../safety/child.js';
import { addon } from './helpers.js';

const PAGE = 4096n;
const ATTRS = [{ type: SvmAttrType.PREFERRED_LOC, value: 0 }];

/** Each errno-mode call on handle d, by name; each returns what the addon returned. */
const calls = (d: ReturnType<typeof addon.kfdOpen>) => ({
  kfdGetVersion: () => addon.kfdGetVersion(d, new Uint32Array(2), true),
  kfdGetProcessApertures: () => addon.kfdGetProcessApertures(d, true),
  kfdSetXnackMode: () => addon.kfdSetXnackMode(d, -1, true),
  kfdAvailableMemory: () => addon.kfdAvailableMemory(d, 1, true),
  kfdSvmSync: () => addon.kfdSvmSync(d, SvmOp.GET_ATTR, PAGE, PAGE, ATTRS, true),
});

describe('errno mode on /dev/null (every KFD ioctl answers ENOTTY)', () => {
  const d = addon.kfdOpen('/dev/null');
  afterAll(() => addon.kfdClose(d));

  it.each(Object.keys(calls(d)))('%s returns -ENOTTY instead of throwing', (name) => {
    const f = calls(d)[name as keyof ReturnType<typeof calls>];
    expect(f()).toBe(-Errno.ENOTTY);
  });

  it('kfdGetVersion leaves the out-parameter alone when refused', () => {
    const out = new Uint32Array([7, 8]);
    expect(addon.kfdGetVersion(d, out, true)).toBe(-Errno.ENOTTY);
    expect([...out]).toEqual([7, 8]);
  });

  it('kfdSvmAsync resolves with -ENOTTY instead of rejecting', async () => {
    const p = addon.kfdSvmAsync(d, SvmOp.SET_ATTR, PAGE, PAGE, ATTRS, true);
    expect(p).toBeInstanceOf(Promise);
    await expect(p).resolves.toBe(-Errno.ENOTTY);
  });

  it('anything but exactly true in the flag place keeps the call throwing', async () => {
    const out = new Uint32Array(2);
    const enotty = expect.objectContaining({ kfdSvmSyscallError: true, code: 'ENOTTY', errno: Errno.ENOTTY });
    for (const flag of [undefined, false, 1, 'true', {}, [], new Boolean(true), null, 1n]) {
      const f = flag as true;
      expect(() => addon.kfdGetVersion(d, out, f)).toThrow(enotty);
      expect(() => addon.kfdGetProcessApertures(d, f)).toThrow(enotty);
      expect(() => addon.kfdSetXnackMode(d, -1, f)).toThrow(enotty);
      expect(() => addon.kfdAvailableMemory(d, 1, f)).toThrow(enotty);
      expect(() => addon.kfdSvmSync(d, 0, PAGE, PAGE, [], f)).toThrow(enotty);
      await expect(addon.kfdSvmAsync(d, 0, PAGE, PAGE, [], f)).rejects.toEqual(enotty);
    }
  });

  it('argument errors still throw TypeError / RangeError in errno mode', () => {
    const map = addon.memAlloc(4096);
    try {
      for (const h of [undefined, 1, {}, map.handle]) {
        expect(() => addon.kfdGetVersion(h as typeof d, new Uint32Array(2), true)).toThrow(TypeError);
        expect(() => addon.kfdSvmSync(h as typeof d, 0, PAGE, PAGE, [], true)).toThrow(TypeError);
        expect(() => addon.kfdSvmAsync(h as typeof d, 0, PAGE, PAGE, [], true)).toThrow(TypeError);
      }
      expect(() => addon.kfdGetVersion(d, new Int32Array(2) as unknown as Uint32Array, true)).toThrow(TypeError);
      expect(() => addon.kfdGetVersion(d, new Uint32Array(1), true)).toThrow(RangeError);
      expect(() => addon.kfdSetXnackMode(d, 2 ** 31, true)).toThrow(RangeError);
      expect(() => addon.kfdAvailableMemory(d, -1, true)).toThrow(RangeError);
      expect(() => addon.kfdSvmSync(d, 0, -1n, PAGE, [], true)).toThrow(RangeError);
      expect(() => addon.kfdSvmAsync(d, 0, PAGE, PAGE, [{ type: 0 }] as never, true)).toThrow(TypeError);
    } finally {
      addon.memFree(map.handle);
    }
  });

  it('a getter in attrs that closes the device does not pull the fd from under the sync call', () => {
    const d2 = addon.kfdOpen('/dev/null');
    const attrs = [{ type: 1, get value() { addon.kfdClose(d2); return 0; } }];
    // The call holds its own reference: the ioctl still runs on /dev/null (ENOTTY), and the device is closed after.
    expect(addon.kfdSvmSync(d2, SvmOp.GET_ATTR, PAGE, PAGE, attrs, true)).toBe(-Errno.ENOTTY);
    expect(addon.kfdIsOpen(d2)).toBe(false);
    expect(addon.kfdSvmSync(d2, SvmOp.GET_ATTR, PAGE, PAGE, attrs, true)).toBe(-Errno.EBADF);
  });
});

describe('errno mode on a closed handle', () => {
  it('every call returns -EBADF; kfdSvmAsync at once, where the throwing mode throws', () => {
    const d = addon.kfdOpen('/dev/null');
    addon.kfdClose(d);
    for (const f of Object.values(calls(d))) expect(f()).toBe(-Errno.EBADF);
    expect(addon.kfdSvmAsync(d, 0, PAGE, PAGE, [], true)).toBe(-Errno.EBADF);
    expect(() => addon.kfdSvmAsync(d, 0, PAGE, PAGE, [])).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});

describe('the backend builds the same error the throwing mode builds', () => {
  /** The fields a caller can see. */
  const fields = (e: unknown) => {
    const o = e as Record<string, unknown>;
    return { code: o.code, errno: o.errno, syscall: o.syscall, request: o.request, message: o.message };
  };
  const thrown = (f: () => unknown): unknown => {
    try {
      f();
    } catch (e) {
      return e;
    }
    throw new Error('did not throw');
  };

  it('open device: each refusal is a KernelError equal (code, errno, syscall, request, message) to the raw error', async () => {
    const b = openKfdBackend({ devicePath: '/dev/null', sysfsRoot: '/nonexistent', iomemPath: '/nonexistent' });
    const d = addon.kfdOpen('/dev/null');
    try {
      const pairs: Array<[() => unknown, () => unknown]> = [
        [() => b.version(), () => addon.kfdGetVersion(d, new Uint32Array(2))],
        [() => b.processApertures(), () => addon.kfdGetProcessApertures(d)],
        [() => b.getXnack(), () => addon.kfdSetXnackMode(d, -1)],
        [() => b.setXnack(true), () => addon.kfdSetXnackMode(d, 1)],
        [() => b.availableMemory(1), () => addon.kfdAvailableMemory(d, 1)],
        [() => b.svmGetAttr(PAGE, PAGE, ATTRS), () => addon.kfdSvmSync(d, SvmOp.GET_ATTR, PAGE, PAGE, ATTRS)],
      ];
      for (const [viaBackend, raw] of pairs) {
        const e = thrown(viaBackend);
        expect(e).toBeInstanceOf(KernelError);
        expect(fields(e)).toEqual(fields(thrown(raw)));
      }
      const asyncErr = await b.svmSetAttr(PAGE, PAGE, ATTRS).then(() => undefined, (e: unknown) => e);
      const rawAsync = await (addon.kfdSvmAsync(d, SvmOp.SET_ATTR, PAGE, PAGE, ATTRS) as Promise<unknown>).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(asyncErr).toBeInstanceOf(KernelError);
      expect(fields(asyncErr)).toEqual(fields(rawAsync));
    } finally {
      b.close();
      addon.kfdClose(d);
    }
  });

  it('closed device: EBADF with the same "the handle is closed" message as the throwing mode', async () => {
    const b = openKfdBackend({ devicePath: '/dev/null', sysfsRoot: '/nonexistent', iomemPath: '/nonexistent' });
    b.close();
    const d = addon.kfdOpen('/dev/null');
    addon.kfdClose(d);
    const e = thrown(() => b.version());
    expect(e).toBeInstanceOf(KernelError);
    expect(fields(e)).toEqual(fields(thrown(() => addon.kfdGetVersion(d, new Uint32Array(2)))));
    expect((e as Error).message).toBe('ioctl AMDKFD_IOC_GET_VERSION failed: EBADF (the handle is closed)');
    const asyncErr = await b.svmRaw(0, PAGE, PAGE, []).then(() => undefined, (x: unknown) => x);
    expect(fields(asyncErr)).toEqual(fields(thrown(() => addon.kfdSvmAsync(d, 0, PAGE, PAGE, []))));
  });
});

describe('with a stand-in KFD answering (test/safety/fake-kfd-shim.c)', () => {
  it('errno mode returns what the throwing mode returns, and the errno the throwing mode throws', () => {
    const r = childResult<Record<string, unknown>>(
      runChild(
        `
        const d = addon.kfdOpen('/dev/null');
        const both = (f) => {
          let thrown; let value;
          try { value = f(undefined); } catch (e) { thrown = -e.errno; }
          const errnoMode = f(true);
          return { same: JSON.stringify(thrown ?? value, (k, v) => typeof v === 'bigint' ? v + 'n' : v) ===
                         JSON.stringify(errnoMode, (k, v) => typeof v === 'bigint' ? v + 'n' : v),
                   errnoMode: typeof errnoMode === 'bigint' ? String(errnoMode) : errnoMode };
        };
        const out = new Uint32Array(2);
        const r = {
          version: both((t) => { const v = addon.kfdGetVersion(d, out, t); return v ?? [...out]; }),
          apertures: both((t) => { const v = addon.kfdGetProcessApertures(d, t); return typeof v === 'number' ? v : v.length; }),
          xnackSet: both((t) => addon.kfdSetXnackMode(d, 1, t)),
          xnackQuery: both((t) => addon.kfdSetXnackMode(d, -1, t)),
          memory: both((t) => addon.kfdAvailableMemory(d, 0x1001, t)),
          memoryUnknownGpu: both((t) => addon.kfdAvailableMemory(d, 7, t)),
          svm: both((t) => addon.kfdSvmSync(d, 1, 0x200000n, 0x200000n, [{ type: 1, value: 0 }], t)),
        };
        // Answered, kfdGetVersion returns undefined in both modes (a null napi_value, which Node-API turns into undefined).
        r.versionReturns = [addon.kfdGetVersion(d, out), addon.kfdGetVersion(d, out, true)].map((v) => v === undefined ? 'undefined' : String(v));
        const asyncOk = await addon.kfdSvmAsync(d, 0, 0x200000n, 0x200000n, [{ type: 1, value: 0 }], true);
        r.svmAsync = { same: JSON.stringify(asyncOk) === JSON.stringify(await addon.kfdSvmAsync(d, 0, 0x200000n, 0x200000n, [{ type: 1, value: 0 }])) };
        addon.kfdClose(d);
        h.report(r);
      `,
        30_000,
        { preload: fakeKfdShim() },
      ),
    );
    expect(r).toEqual({
      version: { same: true, errnoMode: [1, 17] },
      versionReturns: ['undefined', 'undefined'],
      apertures: { same: true, errnoMode: 4 },
      xnackSet: { same: true, errnoMode: 1 },
      xnackQuery: { same: true, errnoMode: 1 },
      memory: { same: true, errnoMode: String(16n << 30n) },
      memoryUnknownGpu: { same: true, errnoMode: -Errno.EINVAL },
      svm: { same: true, errnoMode: [{ type: 1, value: expect.any(Number) }] },
      svmAsync: { same: true },
    });
  });
});
