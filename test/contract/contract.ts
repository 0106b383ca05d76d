/**
 * The contract suite: ONE set of tests, defined once, run against every backend the machine has (the
 * simulator with every profile; the kernel when /dev/kfd opens). It asserts only what the driver
 * promises (kfd_chardev.c, kfd_svm.c, kfd_migrate.c, kfd_smi_events.c), through the public API, plus the
 * ioctl-level rejections the API cannot express (through the backend contract).
 *
 * Cases a device cannot answer are skipped by capability (no GPU with SVM support, an APU that never
 * migrates, every GPU XNACK-capable), never by backend name.
 */
import { readdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SvmAttrType, SvmLocation, PAGE_SIZE } from '../../src/backend/abi.js';
import type { Backend, SvmAttribute } from '../../src/backend/contract.js';
import { isKernelError } from '../../src/backend/errors.js';
import { backendOf } from '../../src/device.js';
import {
  FLAG_NAMES,
  SvmError,
  type Device,
  type Gpu,
  type SvmBuffer,
  type SvmErrorCode,
  type SvmEvent,
} from '../../src/index.js';

/** Expects `p` to reject (or `f` to throw) an SvmError with this code (and errno, when given). */
export async function rejects(p: Promise<unknown> | (() => unknown), code: SvmErrorCode, errno?: number): Promise<SvmError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected SvmError ${code}`).toBeInstanceOf(SvmError);
  const se = err as SvmError;
  expect(se.code, se.message).toBe(code);
  if (errno !== undefined) expect(se.errno).toBe(errno);
  expect(se.hint.length).toBeGreaterThan(0);
  return se;
}

/** The errno a raw backend call fails with. */
async function rawErrno(f: () => unknown): Promise<number | undefined> {
  try {
    await f();
  } catch (e) {
    if (isKernelError(e)) return e.errno;
    throw e;
  }
  return undefined;
}

/** A deterministic byte pattern (xorshift), so a mismatch names its offset. */
export function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** First differing offset, or -1: a byte-for-byte comparison that reports where. */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

const EINVAL = 22;
const EFAULT = 14;
const EOVERFLOW = 75;
const MiB = 1 << 20;

/**
 * Defines the contract tests for one backend. `openDevice` opens a fresh device per test.
 */
export function defineContract(name: string, openDevice: () => Promise<Device>): void {
  describe(`contract: ${name}`, () => {
    // One device per backend for the tests that leave the process as they found it (every buffer they
    // allocate is freed after them); tests that close the device or change XNACK take a fresh one.
    let shared: Device;
    let device: Device;
    let raw: Backend;
    const extra: Device[] = [];
    const bufs: SvmBuffer[] = [];
    beforeAll(async () => {
      shared = await openDevice();
    });
    afterAll(async () => {
      await shared.close();
    });
    beforeEach(() => {
      device = shared;
      raw = backendOf(device);
    });
    afterEach(async () => {
      for (const b of bufs.splice(0)) b.free();
      for (const d of extra.splice(0)) await d.close();
      if (shared.closed) shared = await openDevice();
    });
    // On the kernel one Device per process at a time (kfd_create_process shares one context): the shared
    // device is closed while a fresh one is in use, and reopened after the test.
    const fresh = async (): Promise<Device> => {
      await shared.close();
      const d = await openDevice();
      extra.push(d);
      device = d;
      raw = backendOf(d);
      return d;
    };
    const alloc = async (size: number, options?: { align2M?: boolean }): Promise<SvmBuffer> => {
      const b = await device.alloc(size, options);
      bufs.push(b);
      return b;
    };

    const svmGpus = (): Gpu[] => device.gpus.filter((g) => g.svmCapable);
    /** GPUs a prefetch really migrates to: SVM-capable with VRAM of their own (not an APU). */
    const migratingGpus = (): Gpu[] => svmGpus().filter((g) => !g.apu);
    const needGpu = (skip: (note?: string) => void): Gpu => {
      const g = svmGpus()[0];
      if (!g) skip('no GPU with SVM support on this device');
      return g as Gpu;
    };
    /** Raw mapped memory, not registered, freed after the test by device.close() only if we free it. */
    const mapped: Array<{ free(): void }> = [];
    afterEach(() => {
      for (const m of mapped.splice(0)) m.free();
    });
    const mapRaw = (size: number): bigint => {
      const m = raw.alloc(size);
      mapped.push(m);
      return m.address;
    };

    describe('discovery', () => {
      it('reports the KFD version, typed GPUs and CPUs', () => {
        expect(device.version.major).toBe(1);
        expect(device.version.minor).toBeGreaterThanOrEqual(5); // SVM arrived in KFD ioctl 1.5
        expect(['kfd', 'sim']).toContain(device.backend);
        const ids = device.gpus.map((g) => g.gpuId);
        expect(new Set(ids).size).toBe(ids.length);
        for (const g of device.gpus) {
          expect(g.gpuId).toBeGreaterThan(0);
          expect(g.gfxTarget).toMatch(/^gfx[0-9a-f]+$/);
          expect(g.pciAddress).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
          expect(Number.isSafeInteger(g.vramBytes) && g.vramBytes >= 0).toBe(true);
          expect(typeof g.coherent).toBe('boolean');
          expect(Object.isFrozen(g)).toBe(true);
          expect(device.gpu(g.gpuId)).toBe(g);
        }
        expect(device.cpus.length).toBeGreaterThanOrEqual(1);
        for (const r of device.spmRanges) if (r.gpu) expect(device.gpus).toContain(r.gpu);
      });

      it('closes and opens again in the same process, with the same machine', async (ctx) => {
        const before = device.gpus.map((g) => g.gpuId);
        await fresh();
        expect(device.gpus.map((g) => g.gpuId)).toEqual(before);
        if (svmGpus().length === 0) ctx.skip('no GPU to allocate on');
        const buf = await alloc(PAGE_SIZE);
        await buf.set({ granularity: 3 });
        expect(buf.get().granularity).toBe(3);
      });

      it('answers the XNACK mode, and setting the current mode again is a no-op', () => {
        const x = device.xnack;
        expect(typeof x).toBe('boolean');
        device.setXnack(x);
        expect(device.xnack).toBe(x);
      });

      it('toggles XNACK when every GPU supports it', async (ctx) => {
        if (!device.gpus.every((g) => g.xnackCapable)) ctx.skip('a GPU without XNACK support');
        await fresh();
        const x = device.xnack;
        device.setXnack(!x);
        expect(device.xnack).toBe(!x);
        device.setXnack(x);
        expect(device.xnack).toBe(x);
      });

      it('answers available memory per GPU as a byte count', (ctx) => {
        const g = needGpu(ctx.skip);
        const n = device.availableMemory(g);
        expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
      });

      it('gives sim-only introspection exactly on the simulator', () => {
        if (device.backend === 'sim') expect(device.sim).toBeDefined();
        else expect(device.sim).toBeUndefined();
      });
    });

    describe('allocation', () => {
      it('is refused with ENOGPU (EINVAL) when no GPU VM exists', async (ctx) => {
        if (svmGpus().length > 0) ctx.skip('the device has a GPU with SVM support');
        await rejects(device.alloc(MiB), 'ENOGPU', EINVAL);
      });

      it('maps page-aligned memory with the kernel\'s default attributes', async (ctx) => {
        needGpu(ctx.skip);
        const buf = await alloc(3 * PAGE_SIZE + 1);
        expect(buf.size).toBe(4 * PAGE_SIZE);
        expect(buf.address % BigInt(PAGE_SIZE)).toBe(0n);
        expect(buf.bytes.length).toBe(buf.size);
        const st = buf.get();
        expect(st.preferredLocation).toBe('undefined');
        expect(st.prefetchLocation).toBe('undefined');
        expect(st.granularity).toBe(9);
        expect(st.flags['host-access']).toBe(true);
        expect(st.flags.coherent).toBe(true);
        for (const f of FLAG_NAMES.slice(2)) expect(st.flags[f], f).toBe(false);
        // svm_range_new: with XNACK on a new range is accessible to every supported GPU; off, to none.
        const expected = device.xnack ? 'access' : 'none';
        for (const g of svmGpus()) expect(st.access.get(g.gpuId), `gpu ${g.gpuId}`).toBe(expected);
      });

      it('a new range\'s default access follows the XNACK mode, both ways', async (ctx) => {
        needGpu(ctx.skip);
        if (!device.gpus.every((g) => g.xnackCapable)) ctx.skip('a GPU without per-process XNACK');
        await fresh();
        for (const mode of [!device.xnack, device.xnack]) {
          device.setXnack(mode);
          const buf = await alloc(PAGE_SIZE);
          for (const g of svmGpus()) expect(buf.get().access.get(g.gpuId), `xnack ${mode}`).toBe(mode ? 'access' : 'none');
        }
      });

      it('aligns to 2 MiB on request', async (ctx) => {
        needGpu(ctx.skip);
        const buf = await alloc(MiB, { align2M: true });
        expect(buf.address % BigInt(2 * MiB)).toBe(0n);
      });

      it('registers memory mapped elsewhere; freeing that range leaves the memory mapped', async (ctx) => {
        needGpu(ctx.skip);
        const buf = await alloc(8 * PAGE_SIZE);
        buf.bytes.set(pattern(buf.size, 7));
        const range = await device.register(buf.address + BigInt(2 * PAGE_SIZE), 4 * PAGE_SIZE);
        await range.set({ flags: { 'gpu-exec': true } });
        expect(range.get().flags['gpu-exec']).toBe(true);
        expect(buf.get({ offset: 2 * PAGE_SIZE, length: 4 * PAGE_SIZE }).flags['gpu-exec']).toBe(true);
        expect(buf.get().flags['gpu-exec']).toBe('mixed');
        range.free();
        expect(firstDiff(buf.bytes, pattern(buf.size, 7))).toBe(-1);
        expect(buf.get({ offset: 2 * PAGE_SIZE, length: PAGE_SIZE }).flags['gpu-exec']).toBe(true);
      });
    });

    describe('attribute round trips', () => {
      let buf: SvmBuffer;
      beforeEach(async (ctx) => {
        needGpu(ctx.skip);
        buf = await alloc(16 * PAGE_SIZE);
      });

      it('preferredLocation: system, every GPU, undefined', async () => {
        await buf.set({ preferredLocation: 'system' });
        expect(buf.get().preferredLocation).toBe('system');
        for (const g of svmGpus()) {
          await buf.set({ preferredLocation: g });
          expect(buf.get().preferredLocation).toBe(g);
          await buf.set({ preferredLocation: g.gpuId });
          expect(buf.get().preferredLocation).toBe(g);
        }
        await buf.set({ preferredLocation: 'undefined' });
        expect(buf.get().preferredLocation).toBe('undefined');
      });

      it('prefetchLocation: every GPU, then system', async () => {
        for (const g of svmGpus()) {
          await buf.set({ prefetchLocation: g });
          expect(buf.get().prefetchLocation).toBe(g);
        }
        await buf.set({ prefetchLocation: 'system' });
        expect(buf.get().prefetchLocation).toBe('system');
      });

      it('access: every mode for every GPU', async () => {
        for (const g of svmGpus()) {
          for (const mode of ['access', 'in-place', 'none'] as const) {
            await buf.set({ access: [[g, mode]] });
            expect(buf.get().access.get(g.gpuId), `${g.gpuId} ${mode}`).toBe(mode);
          }
        }
      });

      it('flags: every flag set and cleared on its own', async () => {
        for (const f of FLAG_NAMES) {
          await buf.set({ flags: { [f]: true } });
          expect(buf.get().flags[f], `${f} set`).toBe(true);
          await buf.set({ flags: { [f]: false } });
          expect(buf.get().flags[f], `${f} cleared`).toBe(false);
        }
      });

      it('granularity: 0, 9 and 63', async () => {
        for (const g of [0, 9, 63, 4]) {
          await buf.set({ granularity: g });
          expect(buf.get().granularity).toBe(g);
        }
      });

      it('stores granularity as min(value, 0x3f) (svm_range_apply_attrs)', async () => {
        await raw.svmSetAttr(buf.address, BigInt(buf.size), [{ type: SvmAttrType.GRANULARITY, value: 64 }]);
        expect(buf.get().granularity).toBe(63);
        await raw.svmSetAttr(buf.address, BigInt(buf.size), [{ type: SvmAttrType.GRANULARITY, value: 0xffffffff }]);
        expect(buf.get().granularity).toBe(63);
      });

      it('sets everything in one call and reads it all back', async () => {
        const g = svmGpus()[0] as Gpu;
        await buf.set({
          preferredLocation: g,
          prefetchLocation: 'system',
          access: [[g, 'in-place']],
          flags: { 'gpu-read-only': true, 'gpu-exec': true, coherent: false },
          granularity: 5,
        });
        const st = buf.get();
        expect(st.preferredLocation).toBe(g);
        expect(st.prefetchLocation).toBe('system');
        expect(st.access.get(g.gpuId)).toBe('in-place');
        expect(st.flags).toMatchObject({ 'gpu-read-only': true, 'gpu-exec': true, coherent: false, 'host-access': true });
        expect(st.granularity).toBe(5);
      });

      it('applies repeated attributes in array order (the last one wins)', async () => {
        const g = svmGpus()[0] as Gpu;
        await raw.svmSetAttr(buf.address, BigInt(buf.size), [
          { type: SvmAttrType.ACCESS, value: g.gpuId },
          { type: SvmAttrType.NO_ACCESS, value: g.gpuId },
          { type: SvmAttrType.ACCESS_IN_PLACE, value: g.gpuId },
        ]);
        expect(buf.get().access.get(g.gpuId)).toBe('in-place');
      });
    });

    describe('mixed spans', () => {
      let buf: SvmBuffer;
      const half = 4 * PAGE_SIZE;
      const lo = { offset: 0, length: half };
      const hi = { offset: half, length: half };
      beforeEach(async (ctx) => {
        needGpu(ctx.skip);
        buf = await alloc(2 * half);
      });

      it('a location that differs across the span is undefined', async () => {
        const g = svmGpus()[0] as Gpu;
        await buf.set({ preferredLocation: g }, lo);
        await buf.set({ preferredLocation: 'system' }, hi);
        expect(buf.get(lo).preferredLocation).toBe(g);
        expect(buf.get(hi).preferredLocation).toBe('system');
        expect(buf.get().preferredLocation).toBe('undefined');
        await buf.prefetch(g, lo);
        await buf.prefetch('system', hi);
        expect(buf.get(lo).prefetchLocation).toBe(g);
        expect(buf.get().prefetchLocation).toBe('undefined');
      });

      it('a location unset on part of the span is undefined', async () => {
        await buf.set({ preferredLocation: 'system' }, hi);
        expect(buf.get().preferredLocation).toBe('undefined');
        expect(buf.get({ offset: half + PAGE_SIZE, length: PAGE_SIZE }).preferredLocation).toBe('system');
      });

      it('flags: set on every range, clear on every range, else mixed', async () => {
        await buf.set({ flags: { 'gpu-exec': true } }, lo);
        const st = buf.get();
        expect(st.flags['gpu-exec']).toBe('mixed');
        expect(st.flags['host-access']).toBe(true);
        expect(st.flags['gpu-read-only']).toBe(false);
        expect(st.raw.find((p) => p.type === SvmAttrType.SET_FLAGS)?.value).toBe(0x3);
      });

      it('granularity: the smallest over the span', async () => {
        await buf.set({ granularity: 3 }, lo);
        await buf.set({ granularity: 5 }, hi);
        expect(buf.get().granularity).toBe(3);
        expect(buf.get(hi).granularity).toBe(5);
      });

      it('access: the same mode everywhere, else none (access and in-place do not combine)', async () => {
        const g = svmGpus()[0] as Gpu;
        await buf.set({ access: [[g, 'in-place']] });
        expect(buf.get().access.get(g.gpuId)).toBe('in-place');
        await buf.set({ access: [[g, 'access']] }, lo);
        expect(buf.get(lo).access.get(g.gpuId)).toBe('access');
        expect(buf.get().access.get(g.gpuId)).toBe('none');
      });
    });

    describe('rejections (errno as the kernel answers)', () => {
      it('register: unaligned, zero, null and wrapping ranges', async () => {
        const a = mapRaw(4 * PAGE_SIZE);
        // kfd_ioctl_svm checks alignment and zero before anything else, GPU or not.
        await rejects(device.register(a + 1n, PAGE_SIZE), 'EINVAL', EINVAL);
        await rejects(device.register(a, PAGE_SIZE + 1), 'EINVAL', EINVAL);
        await rejects(device.register(a, 0), 'EINVAL', EINVAL);
        await rejects(device.register(0n, PAGE_SIZE), 'EINVAL', EINVAL);
        // The overflow check (svm_range_is_valid) comes after the GPU VM check in svm_range_set_attr.
        if (svmGpus().length > 0) await rejects(device.register(0xfffffffffffff000n, 2 * PAGE_SIZE), 'EOVERFLOW', EOVERFLOW);
        else await rejects(device.register(0xfffffffffffff000n, 2 * PAGE_SIZE), 'ENOGPU', EINVAL);
      });

      it('register: memory that is not mapped is EFAULT', async (ctx) => {
        needGpu(ctx.skip);
        const buf = await alloc(4 * PAGE_SIZE);
        const gone = buf.address;
        buf.free();
        await rejects(device.register(gone, 4 * PAGE_SIZE), 'EFAULT', EFAULT);
      });

      it('SET is refused before any GPU VM exists, even when valid', async (ctx) => {
        if (svmGpus().length > 0) ctx.skip('the device has a GPU VM');
        const a = mapRaw(4 * PAGE_SIZE);
        expect(await rawErrno(() => raw.svmSetAttr(a, BigInt(4 * PAGE_SIZE), []))).toBe(EINVAL);
        await rejects(device.register(a, 4 * PAGE_SIZE), 'ENOGPU', EINVAL);
        // The alignment check comes first (kfd_ioctl_svm), so that one stays EINVAL.
        await rejects(device.register(a + 1n, 4 * PAGE_SIZE), 'EINVAL', EINVAL);
      });

      it('GET works without a range (and without a GPU): the defaults', async () => {
        const a = mapRaw(4 * PAGE_SIZE);
        const ans = raw.svmGetAttr(a, BigInt(4 * PAGE_SIZE), [
          { type: SvmAttrType.PREFERRED_LOC, value: 0 },
          { type: SvmAttrType.PREFETCH_LOC, value: 0 },
          { type: SvmAttrType.SET_FLAGS, value: 0 },
          { type: SvmAttrType.CLR_FLAGS, value: 0 },
          { type: SvmAttrType.GRANULARITY, value: 0 },
        ]);
        expect(ans).toEqual([
          { type: SvmAttrType.PREFERRED_LOC, value: SvmLocation.UNDEFINED },
          { type: SvmAttrType.PREFETCH_LOC, value: SvmLocation.UNDEFINED },
          { type: SvmAttrType.SET_FLAGS, value: 0x3 },
          { type: SvmAttrType.CLR_FLAGS, value: 0xfffffffc },
          { type: SvmAttrType.GRANULARITY, value: 9 },
        ]);
      });

      it('GET: unmapped EFAULT, unaligned or empty EINVAL, wrapping EOVERFLOW', async () => {
        const a = mapRaw(4 * PAGE_SIZE);
        const q: SvmAttribute[] = [{ type: SvmAttrType.GRANULARITY, value: 0 }];
        expect(await rawErrno(() => raw.svmGetAttr(a + 1n, 4096n, q))).toBe(EINVAL);
        expect(await rawErrno(() => raw.svmGetAttr(a, 0n, q))).toBe(EINVAL);
        expect(await rawErrno(() => raw.svmGetAttr(0n, 4096n, q))).toBe(EINVAL);
        expect(await rawErrno(() => raw.svmGetAttr(0xfffffffffffff000n, 8192n, q))).toBe(EOVERFLOW);
        const m = raw.alloc(4 * PAGE_SIZE);
        const gone = m.address;
        m.free();
        expect(await rawErrno(() => raw.svmGetAttr(gone, BigInt(4 * PAGE_SIZE), q))).toBe(EFAULT);
      });

      it('GET: ACCESS_IN_PLACE, NO_ACCESS and unknown types are EINVAL; so is an unknown gpu_id', async () => {
        const a = mapRaw(4 * PAGE_SIZE);
        const gpuId = svmGpus()[0]?.gpuId ?? 0x1234;
        for (const type of [SvmAttrType.ACCESS_IN_PLACE, SvmAttrType.NO_ACCESS, 99]) {
          expect(await rawErrno(() => raw.svmGetAttr(a, 4096n, [{ type, value: gpuId }])), `type ${type}`).toBe(EINVAL);
        }
        const unknown = unknownGpuId(device);
        expect(await rawErrno(() => raw.svmGetAttr(a, 4096n, [{ type: SvmAttrType.ACCESS, value: unknown }]))).toBe(EINVAL);
      });

      it('SET: unknown type, unknown gpu_id and an undefined prefetch location are EINVAL', async () => {
        const a = mapRaw(4 * PAGE_SIZE);
        const n = 4096n;
        const unknown = unknownGpuId(device);
        const cases: SvmAttribute[][] = [
          [{ type: 99, value: 0 }],
          [{ type: SvmAttrType.PREFERRED_LOC, value: unknown }],
          [{ type: SvmAttrType.PREFETCH_LOC, value: unknown }],
          [{ type: SvmAttrType.PREFETCH_LOC, value: SvmLocation.UNDEFINED }],
          [{ type: SvmAttrType.ACCESS, value: unknown }],
          [{ type: SvmAttrType.NO_ACCESS, value: 0 }],
        ];
        for (const attrs of cases) expect(await rawErrno(() => raw.svmSetAttr(a, n, attrs)), JSON.stringify(attrs)).toBe(EINVAL);
      });

      it('an unknown op is EINVAL', async () => {
        const a = mapRaw(4 * PAGE_SIZE);
        expect(await rawErrno(() => raw.svmRaw(7, a, 4096n, []))).toBe(EINVAL);
      });
    });

    describe('prefetch and CPU access', () => {
      it('moves pages to every GPU and back, bytes intact byte for byte', async (ctx) => {
        needGpu(ctx.skip);
        const buf = await alloc(2 * MiB, { align2M: true });
        const want = pattern(buf.size, 42);
        buf.bytes.set(want);
        for (const g of svmGpus()) {
          await buf.prefetch(g);
          await buf.access(undefined, 'read');
          expect(firstDiff(buf.bytes, want), `after prefetch to ${g.gpuId}`).toBe(-1);
        }
        await buf.prefetch('system');
        expect(firstDiff(buf.bytes, want)).toBe(-1);
      });

      it('a CPU write after a prefetch lands, and survives the next migration', async (ctx) => {
        const g = needGpu(ctx.skip);
        const buf = await alloc(1 * MiB);
        buf.bytes.set(pattern(buf.size, 1));
        await buf.prefetch(g);
        const span = { offset: 64 * PAGE_SIZE, length: 16 * PAGE_SIZE };
        await buf.access(span, 'write');
        const patch = pattern(span.length, 2);
        buf.bytes.set(patch, span.offset);
        await buf.prefetch(g);
        await buf.prefetch('system');
        const want = pattern(buf.size, 1);
        want.set(patch, span.offset);
        expect(firstDiff(buf.bytes, want)).toBe(-1);
      });

      it('prefetches part of a buffer', async (ctx) => {
        const g = needGpu(ctx.skip);
        const buf = await alloc(8 * PAGE_SIZE);
        buf.bytes.set(pattern(buf.size, 3));
        await buf.prefetch(g, { offset: 4 * PAGE_SIZE, length: 4 * PAGE_SIZE });
        expect(buf.get({ offset: 4 * PAGE_SIZE, length: 4 * PAGE_SIZE }).prefetchLocation).toBe(g);
        expect(buf.get({ offset: 0, length: 4 * PAGE_SIZE }).prefetchLocation).toBe('undefined');
        expect(firstDiff(buf.bytes, pattern(buf.size, 3))).toBe(-1);
      });
    });

    describe('copy I/O: read() and write() (the way in where bytes cannot exist: Electron 21+)', () => {
      it('copies at any byte offset, and agrees with bytes both ways', async (ctx) => {
        needGpu(ctx.skip);
        const buf = await alloc(3 * PAGE_SIZE);
        const patch = pattern(11, 5);
        buf.write(PAGE_SIZE - 3, patch); // across a page boundary, at an odd offset
        expect(firstDiff(buf.read(PAGE_SIZE - 3, 11), patch)).toBe(-1);
        expect(firstDiff(buf.bytes.subarray(PAGE_SIZE - 3, PAGE_SIZE + 8), patch)).toBe(-1);
        const want = pattern(buf.size, 6);
        buf.bytes.set(want);
        expect(firstDiff(buf.read(0, buf.size), want)).toBe(-1);
        expect(buf.read(buf.size, 0).length).toBe(0);
      });

      it('read(offset, target) fills the view at its byte offset and returns it; write takes any view kind', async (ctx) => {
        needGpu(ctx.skip);
        const buf = await alloc(PAGE_SIZE);
        buf.write(8, new Uint32Array([0x04030201, 0x08070605]));
        buf.write(16, new DataView(new Uint8Array([9, 10, 11]).buffer, 1, 2));
        const whole = new Uint8Array(14).fill(0xee);
        const view = new DataView(whole.buffer, 2, 10);
        expect(buf.read(8, view)).toBe(view);
        expect([...whole]).toEqual([0xee, 0xee, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 0xee, 0xee]);
        const u16 = buf.read(8, new Uint16Array(2));
        expect([...u16]).toEqual([0x0201, 0x0403]);
      });

      it('after a prefetch to every GPU the CPU copies still see and change the data (device-private pages fault back)', async (ctx) => {
        needGpu(ctx.skip);
        const buf = await alloc(2 * MiB, { align2M: true });
        const want = pattern(buf.size, 12);
        buf.write(0, want);
        for (const g of svmGpus()) {
          // The copies are the CPU touch themselves (no access() declared): on the kernel memcpy faults,
          // on the simulator read()/write() model that fault.
          await buf.prefetch(g);
          expect(firstDiff(buf.read(0, buf.size), want), `after prefetch to ${g.gpuId}`).toBe(-1);
          await buf.prefetch(g);
          const patch = pattern(100, g.gpuId);
          buf.write(4 * PAGE_SIZE + 17, patch);
          want.set(patch, 4 * PAGE_SIZE + 17);
        }
        await buf.prefetch('system');
        expect(firstDiff(buf.read(0, buf.size), want)).toBe(-1);
        expect(firstDiff(buf.bytes, want)).toBe(-1);
      });

      it('refuses what does not fit, or is not a view, and copies nothing then: ESPAN, EARG', async (ctx) => {
        needGpu(ctx.skip);
        const buf = await alloc(2 * PAGE_SIZE);
        const want = pattern(buf.size, 13);
        buf.write(0, want);
        const eight = new Uint8Array(8).fill(0xee);
        for (const offset of [buf.size - 7, buf.size + 1, 2 ** 40]) {
          await rejects(() => buf.read(offset, eight), 'ESPAN');
          await rejects(() => buf.write(offset, eight), 'ESPAN');
          await rejects(() => buf.read(offset, 8), 'ESPAN');
        }
        await rejects(() => buf.read(0, buf.size + 1), 'ESPAN');
        for (const offset of [-1, 1.5, NaN, Infinity, 2 ** 53, '0', 0n, undefined]) {
          await rejects(() => buf.read(offset as never, eight), 'EARG');
          await rejects(() => buf.write(offset as never, eight), 'EARG');
        }
        for (const length of [-1, 0.5, NaN, 2 ** 53]) await rejects(() => buf.read(0, length), 'EARG');
        const detached = new Uint8Array(new ArrayBuffer(8));
        const detachedDv = new DataView(detached.buffer);
        structuredClone(detached.buffer, { transfer: [detached.buffer] });
        for (const bad of [new ArrayBuffer(8), [1, 2, 3], 'abc', null, {}, new Proxy(new Uint8Array(8), {}), detached, detachedDv]) {
          await rejects(() => buf.read(0, bad as never), 'EARG');
          await rejects(() => buf.write(0, bad as never), 'EARG');
        }
        expect([...eight]).toEqual(Array(8).fill(0xee));
        expect(firstDiff(buf.read(0, buf.size), want)).toBe(-1);
      });

      it('after free EFREED, after close ECLOSED', async (ctx) => {
        needGpu(ctx.skip);
        await fresh();
        const buf = await alloc(PAGE_SIZE);
        const other = await alloc(PAGE_SIZE);
        buf.free();
        await rejects(() => buf.read(0, 1), 'EFREED');
        await rejects(() => buf.write(0, new Uint8Array(1)), 'EFREED');
        await device.close();
        await rejects(() => other.read(0, new Uint8Array(1)), 'ECLOSED');
        await rejects(() => other.write(0, new Uint8Array(1)), 'ECLOSED');
      });

      it('backend level: MappedMemory.read/write copy; RangeError outside, TypeError for a non-view, EFAULT (memcpy) once freed', () => {
        const m = raw.alloc(2 * PAGE_SIZE);
        const patch = pattern(64, 14);
        m.write(PAGE_SIZE - 32, patch);
        const back = new Uint8Array(66);
        m.read(PAGE_SIZE - 33, back);
        expect([...back]).toEqual([0, ...patch, 0]);
        // A view of the mapping itself may overlap the span: the copy behaves as a memmove.
        const own = new Uint8Array(m.buffer);
        m.read(PAGE_SIZE - 32, own.subarray(PAGE_SIZE - 30, PAGE_SIZE + 34));
        expect([...own.subarray(PAGE_SIZE - 32, PAGE_SIZE + 34)]).toEqual([...patch.subarray(0, 2), ...patch]);
        expect(() => m.read(2 * PAGE_SIZE - 3, new Uint8Array(4))).toThrow(RangeError);
        expect(() => m.write(2 ** 53 - 1, new Uint8Array(1))).toThrow(RangeError);
        expect(() => m.write(-1, new Uint8Array(1))).toThrow(RangeError);
        expect(() => m.write('0' as never, new Uint8Array(1))).toThrow(TypeError);
        expect(() => m.write(0, [1] as never)).toThrow(TypeError);
        const detached = new Uint8Array(new ArrayBuffer(4));
        structuredClone(detached.buffer, { transfer: [detached.buffer] });
        expect(() => m.read(0, detached)).toThrow(TypeError);
        m.read(2 * PAGE_SIZE, new Uint8Array(0));
        m.free();
        let err: unknown;
        try {
          m.read(0, new Uint8Array(1));
        } catch (e) {
          err = e;
        }
        expect(isKernelError(err)).toBe(true);
        expect(err).toMatchObject({ code: 'EFAULT', errno: EFAULT, syscall: 'memcpy' });
        expect(() => m.write(0, new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'EFAULT' }));
        // A freed mapping is EFAULT before the span is looked at; a bad view is still a TypeError first.
        expect(() => m.read(m.size + 1, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'EFAULT' }));
        expect(() => m.read(0, detached)).toThrow(TypeError);
      });
    });

    describe('events', () => {
      it('a prefetch to a GPU and back gives start and end events covering every page, with the trigger', async (ctx) => {
        const g = migratingGpus()[0];
        if (!g) ctx.skip('no GPU that migrates (none with SVM, or an APU)');
        const gpu = g as Gpu;
        const buf = await alloc(2 * MiB, { align2M: true });
        buf.bytes.fill(1);
        const stream = device.events({ kinds: ['migrate-start', 'migrate-end'] });
        const pages = buf.size / PAGE_SIZE;
        const first = Number(buf.address / BigInt(PAGE_SIZE));
        await buf.prefetch(gpu);
        const toGpu = await collectMigration(stream, pages, first);
        for (const m of toGpu) {
          expect(m.from).toBe(0);
          expect(m.to).toBe(gpu.gpuId);
          expect(m.trigger).toBe('prefetch');
          expect(m.node).toBe(gpu.gpuId); // kfd_migrate.c reports on the GPU node, in both directions
        }
        await buf.prefetch('system');
        const back = await collectMigration(stream, pages, first);
        for (const m of back) {
          expect(m.from).toBe(gpu.gpuId);
          expect(m.to).toBe(0);
          expect(m.trigger).toBe('prefetch');
          expect(m.node).toBe(gpu.gpuId);
        }
        stream.close();
        expect(await stream.next()).toEqual({ value: undefined, done: true });
      });

      it('a CPU touch of device-private pages migrates them back (trigger pagefault-cpu)', async (ctx) => {
        const g = migratingGpus().find((x) => !x.coherent);
        if (!g) ctx.skip('no GPU whose VRAM is device-private');
        const gpu = g as Gpu;
        const buf = await alloc(2 * MiB, { align2M: true });
        buf.bytes.set(pattern(buf.size, 5));
        await buf.prefetch(gpu);
        const stream = device.events({ gpus: [gpu], kinds: ['migrate-start', 'migrate-end'] });
        const touched = { offset: 16 * PAGE_SIZE, length: PAGE_SIZE };
        // On the kernel the read below faults (svm_migrate_to_ram); on the sim access() applies that rule.
        await buf.access(touched, 'read');
        expect(buf.bytes[touched.offset]).toBe(pattern(buf.size, 5)[touched.offset]);
        const page = Number(buf.address / BigInt(PAGE_SIZE)) + touched.offset / PAGE_SIZE;
        let started: Migration | undefined;
        for (;;) {
          const r = await stream.next();
          if (r.done) throw new Error('the event stream ended before the fault migration');
          const m = migrationOf(r.value);
          if (!m || m.trigger !== 'pagefault-cpu' || page < m.start || page >= m.start + m.pages) continue;
          if (r.value.kind === 'migrate-start') started = m;
          else {
            expect(started).toEqual(m);
            expect(m.from).toBe(gpu.gpuId);
            expect(m.to).toBe(0);
            break;
          }
        }
        stream.close();
        expect(firstDiff(buf.bytes, pattern(buf.size, 5))).toBe(-1);
      });

      it('asks the kernel only for the kinds requested', async (ctx) => {
        const g = migratingGpus()[0];
        if (!g) ctx.skip('no GPU that migrates');
        const buf = await alloc(PAGE_SIZE);
        const stream = device.events({ kinds: ['migrate-end'] });
        await buf.prefetch(g as Gpu);
        const r = await stream.next();
        expect(r.done).toBe(false);
        expect((r.value as SvmEvent).kind).toBe('migrate-end');
        stream.close();
      });

      it('ends cleanly on close, break, abort and device close, and closes every event fd', async () => {
        await fresh();
        const before = openFds();
        const a = device.events();
        const pending = a.next();
        a.close();
        expect(await pending).toEqual({ value: undefined, done: true });

        const b = device.events();
        const g = migratingGpus()[0];
        if (g) {
          const buf = await alloc(PAGE_SIZE);
          await buf.prefetch(g);
          let n = 0;
          for await (const _e of b) {
            n++;
            break;
          }
          expect(n).toBe(1);
        } else b.close();
        expect(b.closed).toBe(true);
        expect(await b.next()).toEqual({ value: undefined, done: true });

        const ac = new AbortController();
        const c = device.events({ signal: ac.signal });
        const pc = c.next();
        ac.abort();
        expect(await pc).toEqual({ value: undefined, done: true });

        expect(openFds()).toBe(before); // every event fd of a, b and c is closed

        const d = device.events();
        const pd = d.next();
        await device.close();
        expect(await pd).toEqual({ value: undefined, done: true });
        expect(d.closed).toBe(true);
      });
    });

    describe('misuse', () => {
      it('every call on a freed buffer is EFREED; free is idempotent', async (ctx) => {
        const g = needGpu(ctx.skip);
        const buf = await alloc(PAGE_SIZE);
        buf.free();
        expect(buf.freed).toBe(true);
        buf.free();
        buf[Symbol.dispose]();
        await rejects(() => buf.bytes, 'EFREED');
        await rejects(() => buf.get(), 'EFREED');
        await rejects(buf.set({ granularity: 1 }), 'EFREED');
        await rejects(buf.prefetch(g), 'EFREED');
        await rejects(buf.access(undefined, 'read'), 'EFREED');
      });

      it('a call queued on a buffer and not started when free() runs is EFREED; the device stays usable', async (ctx) => {
        const g = needGpu(ctx.skip);
        const buf = await alloc(PAGE_SIZE);
        const p = buf.prefetch(g);
        buf.free();
        await rejects(p, 'EFREED');
        const other = await alloc(PAGE_SIZE);
        await other.prefetch(g);
        expect(other.get().prefetchLocation).toBe(g);
      });

      it('every device call after close is ECLOSED; close is idempotent', async () => {
        await fresh();
        const gpuId = device.gpus[0]?.gpuId ?? 1;
        await device.close();
        await device.close();
        await rejects(device.alloc(PAGE_SIZE), 'ECLOSED');
        await rejects(device.register(0x10000n, PAGE_SIZE), 'ECLOSED');
        await rejects(() => device.xnack, 'ECLOSED');
        await rejects(() => device.setXnack(true), 'ECLOSED');
        await rejects(() => device.availableMemory(gpuId), 'ECLOSED');
        await rejects(() => device.events(), 'ECLOSED');
        await rejects(() => device.gpu(gpuId), 'ECLOSED');
        await rejects(() => device.sim, 'ECLOSED');
        expect(device.closed).toBe(true);
      });

      it('buffer calls after close are ECLOSED; calls pending at close end ECLOSED', async (ctx) => {
        const g = needGpu(ctx.skip);
        await fresh();
        const buf = await alloc(PAGE_SIZE);
        const pending = buf.prefetch(g);
        const closing = device.close();
        await rejects(pending, 'ECLOSED');
        await closing;
        await device.close();
        await rejects(() => buf.bytes, 'ECLOSED');
        await rejects(() => buf.get(), 'ECLOSED');
        await rejects(buf.prefetch('system'), 'ECLOSED');
        await rejects(buf.set({ granularity: 1 }), 'ECLOSED');
        await rejects(buf.access(undefined, 'read'), 'ECLOSED');
        expect(buf.freed).toBe(true);
        buf.free(); // freeing after close is harmless
      });

      it('spans outside the buffer, unaligned or empty are ESPAN and reach no kernel', async (ctx) => {
        const g = needGpu(ctx.skip);
        const buf = await alloc(4 * PAGE_SIZE);
        const bad = [
          { offset: 0, length: 5 * PAGE_SIZE },
          { offset: 4 * PAGE_SIZE, length: PAGE_SIZE },
          { offset: 100, length: PAGE_SIZE },
          { offset: 0, length: 0 },
        ];
        for (const span of bad) {
          await rejects(() => buf.get(span), 'ESPAN');
          await rejects(buf.set({ granularity: 1 }, span), 'ESPAN');
          await rejects(buf.prefetch(g, span), 'ESPAN');
          await rejects(buf.access(span, 'write'), 'ESPAN');
        }
        expect(buf.get().granularity).toBe(9);
      });

      it('an unknown GPU is EUNKNOWNGPU everywhere a GPU is named', async () => {
        const bad = unknownGpuId(device);
        if (svmGpus().length > 0) {
          const buf = await alloc(PAGE_SIZE);
          await rejects(buf.prefetch(bad), 'EUNKNOWNGPU');
          await rejects(buf.set({ preferredLocation: bad }), 'EUNKNOWNGPU');
          await rejects(buf.set({ access: [[bad, 'access']] }), 'EUNKNOWNGPU');
        }
        await rejects(() => device.availableMemory(bad), 'EUNKNOWNGPU');
        await rejects(() => device.events({ gpus: [bad] }), 'EUNKNOWNGPU');
        await rejects(() => device.gpu(bad), 'EUNKNOWNGPU');
      });

      it('bad arguments are EARG', async () => {
        await rejects(device.alloc(0), 'EARG');
        await rejects(device.alloc(-1), 'EARG');
        await rejects(device.alloc(1.5), 'EARG');
        await rejects(device.register(4096 as unknown as bigint, PAGE_SIZE), 'EARG');
        await rejects(device.register(-4096n, PAGE_SIZE), 'EARG');
        await rejects(() => device.events({ kinds: ['bogus' as never] }), 'EARG');
        await rejects(() => device.setXnack(1 as never), 'EARG');
      });

      it('bad attribute arguments are EARG', async (ctx) => {
        needGpu(ctx.skip);
        const buf = await alloc(PAGE_SIZE);
        await rejects(buf.set({ granularity: 2 * MiB }), 'EARG');
        await rejects(buf.set({ flags: { sticky: true } as never }), 'EARG');
        await rejects(buf.access(undefined, 'exec' as never), 'EARG');
        await rejects(buf.set({ prefetchLocation: 'undefined' as never }), 'EARG');
      });

      it('two prefetches of one span at once: the later call wins, data intact byte for byte', async (ctx) => {
        const gpus = svmGpus();
        if (gpus.length === 0) ctx.skip('no GPU with SVM support');
        const [a, b] = [gpus[0] as Gpu, (gpus[1] ?? 'system') as Gpu | 'system'];
        const buf = await alloc(2 * MiB, { align2M: true });
        const want = pattern(buf.size, 9);
        buf.bytes.set(want);
        await Promise.all([buf.prefetch(a), buf.prefetch(b)]);
        expect(buf.get().prefetchLocation).toBe(b);
        expect(firstDiff(buf.bytes, want)).toBe(-1);
        await Promise.all([buf.prefetch(b), buf.prefetch(a)]);
        expect(buf.get().prefetchLocation).toBe(a);
        await buf.access(undefined, 'read');
        expect(firstDiff(buf.bytes, want)).toBe(-1);
        // Overlapping spans: the later call wins where they overlap.
        const half = { offset: 0, length: MiB };
        await Promise.all([buf.prefetch(b), buf.prefetch(a, half)]);
        expect(buf.get(half).prefetchLocation).toBe(a);
        expect(buf.get({ offset: MiB, length: MiB }).prefetchLocation).toBe(b);
        expect(firstDiff(buf.bytes, want)).toBe(-1);
      });
    });
  });
}

/** A gpu_id no GPU of the device has. */
export function unknownGpuId(device: Device): number {
  let id = 0x7e57;
  while (device.gpus.some((g) => g.gpuId === id)) id++;
  return id;
}

interface Migration {
  start: number;
  pages: number;
  from: number;
  to: number;
  trigger: string;
  /** The gpu_id of the event fd that delivered it (the kernel reports on the GPU node that migrates). */
  node: number;
}

function migrationOf(e: SvmEvent): Migration | undefined {
  if (e.kind !== 'migrate-start' && e.kind !== 'migrate-end') return undefined;
  return {
    start: Number(e.startPage),
    pages: Number(e.pages),
    from: e.from,
    to: e.to,
    trigger: e.triggerName ?? String(e.trigger),
    node: e.gpu.gpuId,
  };
}

/**
 * Reads migrate-start/-end events until the ends cover every page of [first, first+pages), checking that
 * every end has a start before it with the same range, endpoints and trigger.
 */
async function collectMigration(
  stream: AsyncIterator<SvmEvent>,
  pages: number,
  first: number,
): Promise<Migration[]> {
  const starts: Migration[] = [];
  const ends: Migration[] = [];
  let covered = 0;
  while (covered < pages) {
    const r = await stream.next();
    if (r.done) throw new Error(`the event stream ended after ${covered} of ${pages} pages`);
    const m = migrationOf(r.value);
    if (!m) continue;
    if (m.start < first || m.start + m.pages > first + pages) continue; // another buffer's
    if (r.value.kind === 'migrate-start') starts.push(m);
    else {
      const i = starts.findIndex((s) => s.start === m.start && s.pages === m.pages && s.from === m.from && s.to === m.to);
      expect(i, `a migrate-start before the end @${m.start.toString(16)}(${m.pages})`).toBeGreaterThanOrEqual(0);
      expect(starts[i]?.trigger).toBe(m.trigger);
      starts.splice(i, 1);
      ends.push(m);
      covered += m.pages;
    }
  }
  expect(covered).toBe(pages);
  return ends;
}
