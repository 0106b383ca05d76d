// The misuse matrix, run inside a child process (test/safety/misuse.test.ts): every exported function,
// every parameter, every bad value of that parameter's kind, with the other arguments valid. Returns the
// outcomes that differ from what is expected; a crash ends the child, which the parent reports.
import { openSync, closeSync } from 'node:fs';
import { addon } from './harness.mjs';

/** How a call ended. */
export function classify(e) {
  if (e instanceof RangeError) return 'RangeError';
  if (e instanceof TypeError) return 'TypeError';
  if (e && e.kfdSvmSyscallError === true && typeof e.code === 'string' && Number.isInteger(e.errno) && e.errno > 0) {
    return `errno:${e.code}`;
  }
  return `other:${e?.constructor?.name}:${e?.message}`;
}

/** Calls f; awaits a returned Promise. */
export async function outcome(f) {
  try {
    const v = f();
    if (v && typeof v.then === 'function') await v;
    return 'ok';
  } catch (e) {
    return classify(e);
  }
}

const nullFd = openSync('/dev/null', 'r+'); // adopted by smi handles (its own open file description)
const opened = { devices: [], mappings: [], smis: [] };
const dev = () => { const d = addon.kfdOpen('/dev/null'); opened.devices.push(d); return d; };
const mapping = () => { const m = addon.memAlloc(4096); opened.mappings.push(m.handle); return m.handle; };
const smi = () => { const s = addon.smiAdopt(nullFd); opened.smis.push(s); return s; };
const detached = () => { const b = new ArrayBuffer(8); structuredClone(b, { transfer: [b] }); return b; };
const freedBuffer = () => { const m = addon.memAlloc(4096); addon.memFree(m.handle); return m.buffer; };

/** Values that are not handles at all: every handle parameter must answer TypeError. */
const notHandles = () => [
  undefined, null, 0, 1, -1, NaN, 'handle', '', true, 1n, {}, [], () => 0, Symbol('h'), new Date(0),
  new ArrayBuffer(8), detached(), freedBuffer(), new Uint8Array(8), Buffer.alloc(8), new Proxy({}, {}),
  Object.create(null), new Error('x'), Promise.resolve(), new Map(),
];
const NUM_TYPE_BAD = () => [undefined, null, '1', '', 1n, true, {}, [], [1], Symbol('n'), () => 1, new Number(1)];
const NUM_RANGE_BAD = [-1, -0.5, 0.5, 1.5, NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE];
const BIG_TYPE_BAD = () => [undefined, null, 0, 1, 4096, 1.5, NaN, '4096', true, {}, [], Symbol('b'), Object(1n)];
const BIG_RANGE_BAD = [-1n, -(2n ** 63n), -(2n ** 64n), 2n ** 64n, 2n ** 64n + 1n, 2n ** 128n, 2n ** 1000n];
const BIG_EXTREME = [0n, 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 4096n, 2n ** 64n - 1n];

/**
 * For each kind of parameter: a valid value, and the bad ones with the outcome each must have.
 * 'reaches' = representable, so it goes to the kernel (or mmap, open...): an errno error or success.
 */
const KINDS = {
  device: { valid: dev, bad: () => [
    ...notHandles().map((v) => [v, 'TypeError']), [mapping(), 'TypeError'], [smi(), 'TypeError'],
  ] },
  mapping: { valid: mapping, bad: () => [
    ...notHandles().map((v) => [v, 'TypeError']), [dev(), 'TypeError'], [smi(), 'TypeError'],
  ] },
  smi: { valid: smi, bad: () => [
    ...notHandles().map((v) => [v, 'TypeError']), [dev(), 'TypeError'], [mapping(), 'TypeError'],
  ] },
  u32: { valid: () => 1, bad: () => [
    ...NUM_TYPE_BAD().map((v) => [v, 'TypeError']),
    ...[...NUM_RANGE_BAD, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 64].map((v) => [v, 'RangeError']),
    ...[0, -0, 2 ** 31, 2 ** 32 - 1].map((v) => [v, 'reaches']),
  ] },
  i32: { valid: () => -1, bad: () => [
    ...NUM_TYPE_BAD().map((v) => [v, 'TypeError']),
    ...[...NUM_RANGE_BAD.filter((v) => v !== -1), 2 ** 31, -(2 ** 31) - 1, 2 ** 32].map((v) => [v, 'RangeError']),
    ...[0, 1, -(2 ** 31), 2 ** 31 - 1].map((v) => [v, 'reaches']),
  ] },
  u64: { valid: () => 4096n, bad: () => [
    ...BIG_TYPE_BAD().map((v) => [v, 'TypeError']),
    ...BIG_RANGE_BAD.map((v) => [v, 'RangeError']),
    ...BIG_EXTREME.map((v) => [v, 'reaches']),
  ] },
  // memAlloc's size: a Number of bytes up to 2^53 - 1.
  size: { valid: () => 4096, bad: () => [
    ...[...NUM_TYPE_BAD(), 4096n].map((v) => [v, 'TypeError']),
    ...[...NUM_RANGE_BAD, -4096, 4096.5, 2 ** 53, 2 ** 64].map((v) => [v, 'RangeError']),
    // 0 (mmap EINVAL), absurd sizes (mmap ENOMEM), and an odd size (rounded up to a page: fine).
    ...[0, 1, 2 ** 47, 2 ** 53 - 1].map((v) => [v, 'reaches']),
  ] },
  // memPeek's length: up to 1 GiB.
  peekLen: { valid: () => 8, bad: () => [
    ...NUM_TYPE_BAD().map((v) => [v, 'TypeError']),
    ...[...NUM_RANGE_BAD, 2 ** 30 + 1, 2 ** 53, 2 ** 64].map((v) => [v, 'RangeError']),
    ...[0, 1, 2 ** 20].map((v) => [v, 'reaches']),
  ] },
  // abiSvmRequest's nattr: what fits the ioctl's 14 size bits.
  nattr: { valid: () => 1, bad: () => [
    ...NUM_TYPE_BAD().map((v) => [v, 'TypeError']),
    ...[...NUM_RANGE_BAD, 2045, 2 ** 32, 2 ** 53].map((v) => [v, 'RangeError']),
    ...[0, 2044].map((v) => [v, 'reaches']),
  ] },
  'bool?': { valid: () => false, bad: () => [
    ...[null, 0, 1, 'true', 1n, {}, [], Symbol('b'), new Boolean(true)].map((v) => [v, 'TypeError']),
    [undefined, 'reaches'], [true, 'reaches'],
  ] },
  path: { valid: () => '/dev/null', bad: () => [
    ...[undefined, null, 0, 1n, {}, [], Buffer.from('/dev/null'), new URL('file:///dev/null'), Symbol('p'), new String('/dev/null')]
      .map((v) => [v, 'TypeError']),
    ['', 'TypeError'], ['/dev/null\0/etc/passwd', 'TypeError'], ['\0', 'TypeError'],
    ['/nonexistent/x', 'reaches'], ['/', 'reaches'], ['x'.repeat(5000), 'reaches'], ['/dev/null'.padEnd(4095, '/'), 'reaches'],
    ['/proc/self/fd/999999', 'reaches'], ['\u{1F600}', 'reaches'], ['\ud800', 'reaches'],
  ] },
  attrs: { valid: () => [{ type: 1, value: 0 }], bad: () => {
    const throwing = [{ type: 0, get value() { throw new RangeError('from a getter'); } }];
    const shrinking = [{ type: 0, value: 0 }, { type: 0, value: 0 }];
    Object.defineProperty(shrinking[0], 'value', { get() { shrinking.length = 0; return 0; } });
    const sparse = new Array(3);
    const big = Array.from({ length: 2045 }, () => ({ type: 0, value: 0 }));
    const max = Array.from({ length: 2044 }, () => ({ type: 0, value: 0 }));
    return [
      ...[undefined, null, 0, 'attrs', {}, { length: 1, 0: { type: 0, value: 0 } }, 1n, new Proxy([], {}),
        [1], [null], [undefined], ['x'], [{}], [{ type: 0 }], [{ value: 0 }], [{ type: '0', value: 0 }],
        [{ type: 0, value: 0n }], [{ type: new Number(0), value: 0 }], sparse, shrinking].map((v) => [v, 'TypeError']),
      ...[[{ type: -1, value: 0 }], [{ type: 0, value: -1 }], [{ type: 0, value: 2 ** 32 }], [{ type: 0.5, value: 0 }],
        [{ type: NaN, value: 0 }], [{ type: 0, value: Infinity }], big, throwing].map((v) => [v, 'RangeError']),
      ...[[], max, [{ type: 2 ** 32 - 1, value: 2 ** 32 - 1 }], Object.assign([{ type: 0, value: 0 }], { extra: 1 })]
        .map((v) => [v, 'reaches']),
    ];
  } },
  // smiAdopt's fd: a u32 that must also be a valid fd number.
  fd: { valid: () => nullFd, bad: () => [
    ...NUM_TYPE_BAD().map((v) => [v, 'TypeError']),
    ...[...NUM_RANGE_BAD, 2 ** 31, 2 ** 32].map((v) => [v, 'RangeError']),
    ...[987654, 2 ** 31 - 1].map((v) => [v, 'reaches']),
  ] },
  // kfdGetVersion's out-parameter: a Uint32Array of at least 2 elements, written by the call. Any other
  // typed array (even one of the same byte size), a plain array, a buffer: TypeError; shorter or detached: RangeError.
  u32out2: { valid: () => new Uint32Array(2), bad: () => {
    const detachedU32 = new Uint32Array(new ArrayBuffer(8));
    structuredClone(detachedU32.buffer, { transfer: [detachedU32.buffer] });
    return [
      ...[undefined, null, 0, 1n, '', {}, [0, 0], new Int32Array(2), new Uint8Array(8), new Float64Array(1),
        new BigUint64Array(1), new Uint16Array(4), new Uint8ClampedArray(8), Buffer.alloc(8), new ArrayBuffer(8),
        new DataView(new ArrayBuffer(8)), Symbol('o'), new Proxy(new Uint32Array(2), {})].map((v) => [v, 'TypeError']),
      ...[new Uint32Array(0), new Uint32Array(1), detachedU32, new Uint32Array(new ArrayBuffer(12), 4, 1)]
        .map((v) => [v, 'RangeError']),
      ...[new Uint32Array(3), new Uint32Array(new ArrayBuffer(16), 8, 2), new Uint32Array(new SharedArrayBuffer(8))]
        .map((v) => [v, 'reaches']),
    ];
  } },
};

// memRead/memWrite's offset into the 4096-byte mapping `mapping()` makes, with the 8-byte view `view` gives
// (and the view's length with the valid offset 0): a Number up to 2^53 - 1 whose span fits the mapping.
KINDS.memOffset = { valid: () => 0, bad: () => [
  ...[...NUM_TYPE_BAD(), 0n].map((v) => [v, 'TypeError']),
  ...[...NUM_RANGE_BAD, 2 ** 53, 2 ** 64].map((v) => [v, 'RangeError']),
  // Past the end by a byte, far past it, and where offset + length would wrap a u64 if added naively.
  ...[4089, 4096, 4097, 2 ** 32, 2 ** 53 - 1].map((v) => [v, 'RangeError']),
  ...[-0, 1, 4088].map((v) => [v, 'reaches']),
] };
KINDS.view = { valid: () => new Uint8Array(8), bad: () => {
  const detachedU8 = new Uint8Array(new ArrayBuffer(8));
  const detachedDv = new DataView(detachedU8.buffer);
  structuredClone(detachedU8.buffer, { transfer: [detachedU8.buffer] });
  const own = addon.memAlloc(4096); opened.mappings.push(own.handle);
  const gone = addon.memAlloc(4096); const freedView = new Uint8Array(gone.buffer); addon.memFree(gone.handle);
  return [
    ...[undefined, null, 0, 1n, '', 'x'.repeat(8), {}, [0, 0], { byteLength: 8, buffer: new ArrayBuffer(8) },
      new ArrayBuffer(8), new SharedArrayBuffer(8), Symbol('v'), new Proxy(new Uint8Array(8), {}),
      detachedU8, detachedDv, freedView].map((v) => [v, 'TypeError']),
    ...[new Uint8Array(4097), new Float64Array(513), new DataView(new ArrayBuffer(4097))].map((v) => [v, 'RangeError']),
    ...[new Uint8Array(0), new Uint8Array(4096), new Int16Array(3), new Float64Array(1), new BigUint64Array(512),
      new DataView(new ArrayBuffer(16), 4, 8), new Uint32Array(new ArrayBuffer(64), 60, 1), Buffer.from('kfd-svm'),
      new Uint8Array(new SharedArrayBuffer(8)), new Uint8ClampedArray(new ArrayBuffer(0)), new Uint8Array(own.buffer, 8)]
      .map((v) => [v, 'reaches']),
  ];
} };

const REACHES = /^(ok|errno:E[A-Z0-9]+)$/;

/**
 * Runs the matrix for `signatures` ({ fn: kinds[] }); returns { calls, mismatches }.
 * A 'reaches' value must end in success or an errno error; the others in exactly the expected class.
 */
export async function runMatrix(signatures) {
  const mismatches = [];
  let calls = 0;
  const check = (what, got, want) => {
    calls++;
    const good = want === 'reaches' ? REACHES.test(got) : got === want;
    if (!good) mismatches.push(`${what}: got ${got}, want ${want}`);
  };
  for (const [fn, kinds] of Object.entries(signatures)) {
    const f = addon[fn];
    const valid = () => kinds.map((k) => KINDS[k].valid());
    for (let i = 0; i < kinds.length; i++) {
      for (const [bad, want] of KINDS[kinds[i]].bad()) {
        const args = valid();
        args[i] = bad;
        check(`${fn} arg ${i} (${kinds[i]}) = ${describe(bad)}`, await outcome(() => f(...args)), want);
      }
    }
    // Too few arguments: every required one missing in turn from the end. Optional trailing ones are fine.
    const required = kinds.filter((k) => !k.endsWith('?')).length;
    for (let n = 0; n < required; n++) check(`${fn} with ${n} argument(s)`, await outcome(() => f(...valid().slice(0, n))), 'TypeError');
    // Extra arguments, `new`, a foreign `this`: never a crash (whatever the outcome of the call itself).
    check(`${fn} with extra arguments`, await outcome(() => f(...valid(), 1, 'x', {})), 'reaches');
    check(`${fn} with this = a handle`, await outcome(() => f.call(dev(), ...valid())), 'reaches');
    const viaNew = await outcome(() => new f(...valid()));
    check(`new ${fn}`, viaNew === 'TypeError' ? 'ok' : viaNew, 'reaches');
  }
  return { calls, mismatches };
}

/** What each function answers on a closed (freed) handle of each kind it takes. */
export async function closedHandles(signatures) {
  const out = {};
  const closedDev = dev(); addon.kfdClose(closedDev);
  const freed = mapping(); addon.memFree(freed);
  const closedSmi = smi(); addon.smiClose(closedSmi);
  const closed = { device: closedDev, mapping: freed, smi: closedSmi };
  for (const [fn, kinds] of Object.entries(signatures)) {
    const i = kinds.findIndex((k) => k in closed);
    if (i < 0) continue;
    const args = kinds.map((k) => KINDS[k].valid());
    args[i] = closed[kinds[i]];
    out[fn] = await outcome(() => addon[fn](...args));
  }
  return out;
}

export function cleanup() {
  for (const d of opened.devices) addon.kfdClose(d);
  for (const m of opened.mappings) addon.memFree(m);
  for (const s of opened.smis) addon.smiClose(s);
  closeSync(nullFd);
}

function describe(v) {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol') return v.toString();
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 20)}…(${v.length})` : v);
  if (Array.isArray(v)) return `array(${v.length})`;
  if (v instanceof ArrayBuffer) return `ArrayBuffer(${v.byteLength})`;
  if (typeof v === 'object' && v !== null) return v.constructor?.name ?? 'null-proto object';
  return String(v);
}
