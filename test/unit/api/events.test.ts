/**
 * Event streams over the real simulator's SMI sources: merging several GPUs, a source that fails, and the
 * kinds filter. (End-of-stream rules run in the contract suite on every backend.)
 */
import { afterEach, expect, it } from 'vitest';
import { backendOf } from '../../../src/device.js';
import { eventMask } from '../../../src/events.js';
import { KernelError } from '../../../src/backend/errors.js';
import { SmiEvent, smiEventMask } from '../../../src/backend/abi.js';
import { open, SvmError, type Device, type SvmEvent } from '../../../src/index.js';

let device: Device | undefined;
afterEach(async () => {
  await device?.close();
  device = undefined;
});

it('kinds become the kernel mask bits (1 << (event - 1))', () => {
  expect(eventMask(['migrate-start', 'migrate-end'])).toBe(smiEventMask(SmiEvent.MIGRATE_START, SmiEvent.MIGRATE_END));
  expect(eventMask(['vmfault'])).toBe(1n);
  expect(eventMask(['unmap-from-gpu'])).toBe(1n << 10n);
});

it('merges the event fds of several GPUs, each event tagged with the GPU that delivered it', async () => {
  device = await open({ backend: 'sim', profile: 'mi210' });
  const [g1, g2] = device.gpus;
  if (!g1 || !g2) throw new Error('mi210 has two GPUs');
  const stream = device.events({ kinds: ['migrate-end'] });
  const a = await device.alloc(4096);
  const b = await device.alloc(4096);
  await a.prefetch(g1);
  await b.prefetch(g2);
  const got: SvmEvent[] = [];
  for await (const e of stream) {
    got.push(e);
    if (got.length === 2) break;
  }
  expect(got.map((e) => e.gpu)).toEqual([g1, g2]);
  expect(got.map((e) => (e.kind === 'migrate-end' ? e.to : -1))).toEqual([g1.gpuId, g2.gpuId]);
  expect(stream.closed).toBe(true);
});

it('a source that fails ends the stream with its SvmError, delivered once', async () => {
  device = await open({ backend: 'sim', profile: 'mi210' });
  const impl = backendOf(device);
  const orig = impl.openSmiEvents.bind(impl);
  impl.openSmiEvents = (gpuId, mask) => {
    const src = orig(gpuId, mask);
    return {
      read: () => Promise.reject(new KernelError(9, 'read', 'SMI event fd')),
      setMask: (m) => src.setMask(m),
      close: () => src.close(),
    };
  };
  const stream = device.events();
  const err = await stream.next().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SvmError);
  expect((err as SvmError).code).toBe('EBADF');
  expect((err as SvmError).errno).toBe(9);
  expect(await stream.next()).toEqual({ value: undefined, done: true });
});

it('allProcesses adds the ALL_PROCESS bit to the mask written at open; a non-boolean is EARG', async () => {
  device = await open({ backend: 'sim', profile: 'mi210' });
  const impl = backendOf(device);
  const orig = impl.openSmiEvents.bind(impl);
  const masks: bigint[] = [];
  impl.openSmiEvents = (gpuId, mask) => {
    masks.push(mask);
    return orig(gpuId, mask);
  };
  device.events({ kinds: ['vmfault'], allProcesses: true }).close();
  device.events({ kinds: ['vmfault'] }).close();
  expect(masks).toEqual([
    smiEventMask(SmiEvent.VMFAULT, SmiEvent.ALL_PROCESS),
    smiEventMask(SmiEvent.VMFAULT, SmiEvent.ALL_PROCESS),
    smiEventMask(SmiEvent.VMFAULT),
    smiEventMask(SmiEvent.VMFAULT),
  ]);
  expect(() => device!.events({ allProcesses: 'yes' as unknown as boolean })).toThrow(
    expect.objectContaining({ code: 'EARG', message: expect.stringMatching(/allProcesses must be a boolean/) }),
  );
});

it("allProcesses without CAP_SYS_ADMIN: the kernel ignores the bit, so another process's fault stays out", async () => {
  device = await open({ backend: 'sim', profile: 'mi210' });
  const [g1] = device.gpus;
  if (!g1 || !device.sim) throw new Error('mi210 sim');
  const stream = device.events({ gpus: [g1], kinds: ['vmfault', 'migrate-start'], allProcesses: true });
  device.sim.foreignVmFault(g1.gpuId, 0x4242, 'other');
  const buf = await device.alloc(4096);
  await buf.prefetch(g1);
  const first = await stream.next();
  stream.close();
  // The sim opens as a user without CAP_SYS_ADMIN (kfd_smi_ev_enabled): its own migration comes first.
  expect(first.value).toMatchObject({ kind: 'migrate-start', pid: process.pid });
});
