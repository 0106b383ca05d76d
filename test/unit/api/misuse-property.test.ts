/**
 * Random sequences of API calls, valid and not, on the simulator: every failure is an SvmError (never
 * another exception, never a crash), the device stays usable, and the bytes of every live buffer stay what
 * was written into them, whatever was prefetched, touched, freed or misused around them.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { open, SvmError, type Device, type SvmBuffer } from '../../../src/index.js';

type Op =
  | { op: 'alloc'; pages: number }
  | { op: 'free'; buf: number }
  | { op: 'prefetch'; buf: number; target: number; span: [number, number] }
  | { op: 'set'; buf: number; attrs: Record<string, unknown>; span: [number, number] }
  | { op: 'get'; buf: number; span: [number, number] }
  | { op: 'access'; buf: number; span: [number, number]; write: boolean }
  | { op: 'register'; buf: number; offset: number; length: number }
  | { op: 'read'; buf: number; offset: number; length: number }
  | { op: 'write'; buf: number; offset: number; length: number; fill: number };

const P = 4096;
const span = fc.tuple(fc.integer({ min: -1, max: 9 }), fc.integer({ min: 0, max: 9 }));
const target = fc.integer({ min: -1, max: 3 }); // -1 system, 0..1 GPUs, 2..3 unknown gpu_ids
const attrs = fc.record(
  {
    preferredLocation: fc.constantFrom<unknown>('system', 'undefined', 'vram', 0, 1, 7),
    granularity: fc.constantFrom<unknown>(0, 9, 63, 64, -1, 'x'),
    flags: fc.constantFrom<unknown>({ coherent: false }, { 'gpu-exec': true }, { bogus: true }, null),
    access: fc.constantFrom<unknown>('in-place', 'none', 'access', 'bad'),
  },
  { requiredKeys: [] },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('alloc' as const), pages: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('free' as const), buf: fc.nat(5) }),
  fc.record({ op: fc.constant('prefetch' as const), buf: fc.nat(5), target, span }),
  fc.record({ op: fc.constant('set' as const), buf: fc.nat(5), attrs, span }),
  fc.record({ op: fc.constant('get' as const), buf: fc.nat(5), span }),
  fc.record({ op: fc.constant('access' as const), buf: fc.nat(5), span, write: fc.boolean() }),
  fc.record({
    op: fc.constant('register' as const),
    buf: fc.nat(5),
    offset: fc.integer({ min: -1, max: 9 }),
    length: fc.integer({ min: 0, max: 9 }),
  }),
  // Copies at byte offsets, unaligned, past the end and negative included.
  fc.record({ op: fc.constant('read' as const), buf: fc.nat(5), offset: fc.integer({ min: -3, max: 9 * 4096 }), length: fc.integer({ min: -1, max: 3 * 4096 }) }),
  fc.record({
    op: fc.constant('write' as const),
    buf: fc.nat(5),
    offset: fc.integer({ min: -3, max: 9 * 4096 }),
    length: fc.integer({ min: 0, max: 3 * 4096 }),
    fill: fc.integer({ min: 0, max: 255 }),
  }),
);

function toSpan([o, l]: [number, number]): { offset: number; length: number } | undefined {
  return o < 0 ? undefined : { offset: o * P, length: l * P };
}

async function run(device: Device, ops: Op[]): Promise<void> {
  const bufs: Array<{ buf: SvmBuffer; want: Uint8Array }> = [];
  const gpuRef = (t: number): unknown => (t < 0 ? 'system' : (device.gpus[t] ?? 0x7e57 + t));
  let seed = 1;
  for (const o of ops) {
    const entry = bufs[o.op === 'alloc' ? 0 : o.buf % Math.max(bufs.length, 1)];
    try {
      switch (o.op) {
        case 'alloc': {
          const buf = await device.alloc(o.pages * P);
          const want = new Uint8Array(buf.size).map((_, i) => (i * 7 + seed++) & 0xff);
          buf.bytes.set(want);
          bufs.push({ buf, want });
          break;
        }
        case 'free':
          entry?.buf.free();
          break;
        case 'prefetch':
          await entry?.buf.prefetch(gpuRef(o.target) as never, toSpan(o.span));
          break;
        case 'set': {
          const a: Record<string, unknown> = { ...o.attrs };
          if (typeof a.preferredLocation === 'number') a.preferredLocation = gpuRef(a.preferredLocation);
          if (typeof a.access === 'string') a.access = [[device.gpus[0] ?? 1, a.access]];
          await entry?.buf.set(a as never, toSpan(o.span));
          break;
        }
        case 'get':
          entry?.buf.get(toSpan(o.span));
          break;
        case 'access':
          await entry?.buf.access(toSpan(o.span), o.write ? 'write' : 'read');
          break;
        case 'register':
          if (entry) (await device.register(entry.buf.address + BigInt(o.offset * P), o.length * P)).free();
          break;
        case 'read': {
          if (!entry) break;
          const got = entry.buf.read(o.offset, o.length);
          expect(Buffer.compare(got, entry.want.subarray(o.offset, o.offset + o.length)), `read ${JSON.stringify(o)}`).toBe(0);
          break;
        }
        case 'write': {
          if (!entry) break;
          const data = new Uint8Array(o.length).fill(o.fill);
          entry.buf.write(o.offset, data);
          entry.want.set(data, o.offset); // it succeeded: the buffer holds these bytes now
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof SvmError)) throw e;
    }
    for (const { buf, want } of bufs) {
      if (buf.freed) continue;
      expect(Buffer.compare(buf.bytes, want), `bytes of 0x${buf.address.toString(16)} after ${JSON.stringify(o)}`).toBe(0);
    }
  }
  // Still usable after whatever happened.
  const last = await device.alloc(P);
  expect(last.get().granularity).toBeGreaterThanOrEqual(0);
}

for (const profile of ['mi210', 'mi250x'] as const) {
  it(`${profile}: random valid and invalid calls only ever fail with SvmError, and never touch data`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const device = await open({ backend: 'sim', profile });
        try {
          await run(device, [{ op: 'alloc', pages: 4 }, ...ops]);
        } finally {
          await device.close();
        }
      }),
      { numRuns: 25 },
    );
  });
}
