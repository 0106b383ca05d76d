/**
 * The API's ordering rule, on the real simulator with its SVM SET held back at a gate (a wrapper around
 * the sim's own call, not a fake backend): calls on a device take effect in call order even when the
 * backend is slow to answer, which the kfd backend is (it runs SVM calls on a worker thread).
 */
import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import type { SvmAttribute } from '../../../src/backend/contract.js';
import { backendOf } from '../../../src/device.js';
import { open, SvmError, type Device } from '../../../src/index.js';
import { rangeMemory } from '../../../src/svm-buffer.js';

let device: Device | undefined;
afterEach(async () => {
  await device?.close();
  device = undefined;
});

/** Holds every SVM SET until `release()`; records what was issued, in order. */
function gateSets(d: Device): { issued: SvmAttribute[][]; release(): void } {
  const impl = backendOf(d);
  const orig = impl.svmSetAttr.bind(impl);
  const issued: SvmAttribute[][] = [];
  let open = (): void => undefined;
  const gate = new Promise<void>((r) => (open = r));
  impl.svmSetAttr = async (start, size, attrs) => {
    issued.push([...attrs]);
    await gate;
    return orig(start, size, attrs);
  };
  return { issued, release: () => open() };
}

it('a later call is issued only after the earlier one settled, so it wins', async () => {
  device = await open({ backend: 'sim', profile: 'mi210' });
  const [g1, g2] = device.gpus;
  if (!g1 || !g2) throw new Error('mi210 has two GPUs');
  const buf = await device.alloc(2 << 20);
  const want = buf.bytes.map((_, i) => (i * 31) & 0xff);
  buf.bytes.set(want);
  const gate = gateSets(device);
  const p1 = buf.prefetch(g1);
  const p2 = buf.prefetch(g2);
  await tick();
  await tick();
  expect(gate.issued.length).toBe(1); // the second waits for the first
  gate.release();
  await Promise.all([p1, p2]);
  expect(gate.issued.map((a) => a[0]?.value)).toEqual([g1.gpuId, g2.gpuId]);
  expect(buf.get().prefetchLocation).toBe(g2);
  expect(Buffer.compare(buf.bytes, want)).toBe(0);
});

it('a failed call does not stop the ones after it', async () => {
  device = await open({ backend: 'sim', profile: 'mi210' });
  const g = device.gpus[0];
  if (!g) throw new Error('no GPU');
  const buf = await device.alloc(1 << 20);
  const bad = device.register(buf.address + 1n, 4096); // the kernel answers EINVAL
  const good = buf.prefetch(g);
  await expect(bad).rejects.toMatchObject({ code: 'EINVAL', errno: 22 });
  await good;
  expect(buf.get().prefetchLocation).toBe(g);
});

it('free() during a running call unmaps only after that call settled; queued calls end EFREED', async () => {
  device = await open({ backend: 'sim', profile: 'mi210' });
  const g = device.gpus[0];
  if (!g) throw new Error('no GPU');
  const buf = await device.alloc(1 << 20);
  const memory = rangeMemory(buf);
  if (!memory) throw new Error('an allocated buffer owns its memory');
  const gate = gateSets(device);
  const running = buf.prefetch(g);
  await tick();
  const queued = buf.prefetch('system');
  buf.free();
  expect(memory.freed).toBe(false); // the kernel is still working on it
  gate.release();
  await running;
  await expect(queued).rejects.toBeInstanceOf(SvmError);
  await expect(queued).rejects.toMatchObject({ code: 'EFREED' });
  expect(memory.freed).toBe(true);
});
