// Behaviour differential of two builds of the simulator: the same random sequences of operations (alloc,
// free, SVM SET with random attributes including prefetches, GET, CPU and GPU accesses, XNACK switches,
// queues) run through both, on 8 machine shapes (mi250x, mi300a, mi210, small-VRAM machines with
// private / coherent GPUs, a hive, XNACK on and off, and a partitioned device whose XCPs share VRAM pools), with an SMI client on every GPU. After every step it
// compares the result or error (class, code, errno, message), the simulated clock, the counters, the range
// list, the system-memory account, each GPU's VRAM use, a snapshot of every mapping, the XNACK mode and the
// SMI text, and stops at the first difference. Use it when changing the simulator for speed: behaviour must
// not change, errno for errno and SMI line for SMI line.
//
//   npx tsc -p tsconfig.build.json --outDir /tmp/new        # this tree
//   git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci && npx tsc -p tsconfig.build.json --outDir /tmp/old)
//   node scripts/sim/differential.mjs /tmp/old /tmp/new 210 300    # seeds, steps per seed
//
// (It was the check behind the row-store, lazy-residency and BO-reuse work, and the slot-based migrations
// and BO records after it: 63,000 steps identical each time. The partitioned shape came later: a build
// before it runs 7 shapes.)
const [DA, DB, SEEDS = '200', OPS = '300'] = process.argv.slice(2);
const simA = await import(`${DA}/backend/sim/index.js`), simB = await import(`${DB}/backend/sim/index.js`);
const abi = await import(`${DA}/backend/abi.js`);
const { SvmAttrType: T, SvmLocation: L, SmiEvent, smiEventMask } = abi;
const MiB = 1024 * 1024, PAGE = 4096;
const A = 0x1111, B = 0x2222;
const gpu = (over) => ({ marketingName: 'Test GPU', gfxTargetVersion: 90010, vendorId: 0x1002, deviceId: 0x740c,
  pci: { domain: 0, bus: 0xc1 + (over.drmRenderMinor ?? 128) - 128, device: 0, function: 0 }, drmRenderMinor: 128, simdCount: 440, numXcc: 1,
  vramBytes: 64 * MiB, memoryKind: 'private', hiveId: 0n, svmSupported: true, xnackSupported: true,
  hostLink: { kind: 'pcie', bandwidthBytesPerSecond: 4e9, latencyNs: 1000 }, ...over });
const machine = (gpus, over = {}) => ({ id: 'test', description: 'test', kfdVersion: { major: 1, minor: 17 }, cpus: [{ name: 'c', cores: 8, memoryBytes: 1024 * MiB }], gpus, xnackDefault: false, ...over });
function rng(seed) { let s = seed >>> 0 || 1; return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; }; }
const profiles = [
  (r) => machine([gpu({ gpuId: A, drmRenderMinor: 128, vramBytes: (r() < 0.5 ? 8 : 64) * MiB }), gpu({ gpuId: B, drmRenderMinor: 129, memoryKind: 'coherent', vramBytes: 16 * MiB, hostLink: { kind: 'xgmi', bandwidthBytesPerSecond: 8e9, latencyNs: 500 } })], { xnackDefault: r() < 0.5 }),
  (r) => machine([gpu({ gpuId: A, drmRenderMinor: 128, hiveId: 7n, vramBytes: 8 * MiB }), gpu({ gpuId: B, drmRenderMinor: 129, hiveId: 7n, vramBytes: 8 * MiB })], { xnackDefault: r() < 0.5 }),
  () => 'mi250x', () => 'mi300a', () => 'mi210',
  (r) => machine([gpu({ gpuId: A, drmRenderMinor: 128, vramBytes: 6 * MiB }), gpu({ gpuId: B, drmRenderMinor: 129, memoryKind: 'coherent', vramBytes: 6 * MiB })], { xnackDefault: r() < 0.5 }),
  (r) => machine([gpu({ gpuId: A, drmRenderMinor: 128, vramBytes: 6 * MiB })], { xnackDefault: r() < 0.5 }),
];
// A partitioned device (CPX + NPS4 of 160 MiB: 8 XCPs of 14 MiB usable, two per VRAM pool of 36 MiB; the last
// two 6 MiB and 20 MiB), when the build has partitions: XCPs of one memory partition fill and evict one pool.
const parts = await import(`${DA}/platform/partitions.js`).catch(() => undefined);
if (parts) {
  profiles.push((r) => machine(parts.deviceXcps(0, 'CPX', 'NPS4', 8, 160 * MiB).map((x, i) =>
    gpu({ gpuId: 0x3000 + i, drmRenderMinor: 128 + i, pci: { domain: 0, bus: 0x05, device: 0, function: 0 }, vramBytes: x.vramBytes, numXcc: 1, partition: x.partition })),
    { xnackDefault: r() < 0.5 }));
}
const ser = (v) => JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `${x}n` : x));
let checked = 0; const tot = { migrations: 0, evictions: 0, cpu: 0, gpu: 0, vm: 0, qe: 0, smi: 0, errs: 0, ranges: 0 };
for (let seed = 1; seed <= +SEEDS; seed++) {
  const r = rng(seed * 2654435761);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const profile = profiles[seed % profiles.length](r);
  const sides = [simA, simB].map((sim) => {
    const b = sim.createSimBackend({ profile, pid: 77 });
    const gpus = b.processApertures().map((x) => x.gpuId);
    const minors = b.profile.gpus.map((g) => g.drmRenderMinor);
    const text = { s: '' };
    const srcs = gpus.map((g) => b.openSmiEvents(g, smiEventMask(...Object.values(SmiEvent).filter((e) => typeof e === 'number' && e >= 1 && e <= 16))));
    const pump = (src, gi) => src.read().then((c) => { if (c) { text.s += `[${gi}]` + c; pump(src, gi); } }, (e) => { text.s += `ERR ${e}`; });
    srcs.forEach(pump);
    return { b, gpus, minors, text, maps: [] };
  });
  const gpus = sides[0].gpus;
  if (gpus.length === 0) continue;
  const out = async (s, f) => { try { const v = await f(s); return 'ok ' + ser(v); } catch (e) { return `err ${e?.constructor?.name} ${e?.code ?? ''} ${e?.errno ?? ''} ${e?.message}`; } };
  // acquire VMs on all but maybe one GPU
  for (const s of sides) s.gpus.forEach((g, i) => { if (i === 0 || seed % 3) s.b.acquireVm(g, s.minors[i]); });
  const locs = [0, L.UNDEFINED, ...gpus, 0x9999];
  const attrGen = () => {
    const k = r();
    if (k < 0.3) return { type: pick([T.PREFERRED_LOC, T.PREFETCH_LOC]), value: pick(locs) };
    if (k < 0.5) return { type: T.PREFETCH_LOC, value: pick([0, ...gpus]) };
    if (k < 0.65) return { type: pick([T.ACCESS, T.ACCESS_IN_PLACE, T.NO_ACCESS]), value: pick([...gpus, 0x9999]) };
    if (k < 0.8) return { type: pick([T.SET_FLAGS, T.CLR_FLAGS]), value: Math.floor(r() * 0x100) };
    if (k < 0.95) return { type: T.GRANULARITY, value: pick([0, 1, 2, 3, 9, 70]) };
    return { type: pick([8, 99]), value: 0 };
  };
  const getGen = () => ({ type: pick([T.PREFERRED_LOC, T.PREFETCH_LOC, T.SET_FLAGS, T.CLR_FLAGS, T.GRANULARITY, T.ACCESS, T.ACCESS_IN_PLACE]), value: pick([0, ...gpus]) });
  for (let step = 0; step < +OPS; step++) {
    const live = sides[0].maps.filter((m) => !m.freed);
    const k = r();
    let op;
    if (k < 0.08 || live.length === 0) op = { kind: 'alloc', pages: 1 + Math.floor(r() * (r() < 0.4 ? 1500 : 64)), align: r() < 0.3 };
    else {
      const mi = sides[0].maps.indexOf(pick(live));
      const m = sides[0].maps[mi];
      const pages = m.size / PAGE;
      const at = Math.floor(r() * pages) - (r() < 0.05 ? 2 : 0);
      const len = 1 + Math.floor(r() * (r() < 0.3 ? pages : 12));
      const span = [m.address + BigInt(at * PAGE), BigInt(len * PAGE)];
      if (k < 0.45) op = { kind: 'set', mi, span, attrs: Array.from({ length: Math.floor(r() * 3) + (r() < 0.9 ? 1 : 0) }, attrGen) };
      else if (k < 0.6) op = { kind: 'get', mi, span, attrs: Array.from({ length: 1 + Math.floor(r() * 3) }, getGen) };
      else if (k < 0.7) op = { kind: 'cpu', span, mode: pick(['read', 'write']) };
      else if (k < 0.82) op = { kind: 'gpu', g: pick(gpus), span, mode: pick(['read', 'write']) };
      else if (k < 0.86) op = { kind: 'free', mi };
      else if (k < 0.89) op = { kind: 'xnack', on: r() < 0.5 };
      else if (k < 0.91) op = { kind: 'queue', g: pick(gpus), destroy: r() < 0.7 };
      else op = { kind: 'set', mi, span: [m.address, BigInt(m.size)], attrs: [{ type: T.PREFETCH_LOC, value: pick([0, ...gpus, ...gpus]) }] };
    }
    const res = [];
    for (const s of sides) {
      res.push(await out(s, async (s) => {
        const b = s.b;
        switch (op.kind) {
          case 'alloc': { const m = b.alloc(op.pages * PAGE, op.align ? { align2M: true } : undefined); s.maps.push(m); return [m.address, m.size]; }
          case 'set': return b.svmSetAttr(op.span[0], op.span[1], op.attrs.map((a) => ({ ...a })));
          case 'get': return b.svmGetAttr(op.span[0], op.span[1], op.attrs.map((a) => ({ ...a })));
          case 'cpu': return b.cpuAccess(op.span[0], op.span[1], op.mode);
          case 'gpu': return b.gpuAccess(op.g, op.span[0], op.span[1], op.mode);
          case 'free': s.maps[op.mi].free(); return 'freed';
          case 'xnack': return b.setXnack(op.on);
          case 'queue': { const q = b.createQueue(op.g); if (op.destroy) q.destroy(); return 'q'; }
        }
      }));
    }
    await new Promise((res) => setImmediate(res));
    const state = sides.map((s) => ser([s.b.clock(), s.b.counters(), s.b.ranges(), s.b.systemMemory(), s.gpus.map((g) => s.b.vram(g)),
      s.maps.filter((m) => !m.freed).map((m) => s.b.snapshot(m.address, BigInt(m.size))), s.b.getXnack(), s.text.s]));
    if (res[0] !== res[1] || state[0] !== state[1]) {
      console.log('MISMATCH seed', seed, 'step', step, ser(op));
      console.log(' A:', res[0], '\n B:', res[1]);
      if (state[0] !== state[1]) { const a = state[0], b2 = state[1]; let i = 0; while (a[i] === b2[i]) i++; console.log(' state differs at', i, '\n A:', a.slice(Math.max(0, i - 200), i + 200), '\n B:', b2.slice(Math.max(0, i - 200), i + 200)); }
      process.exit(1);
    }
    checked++; if (res[0].startsWith('err')) tot.errs++;
  }
  { const c = sides[0].b.counters(); tot.migrations += c.migrations; tot.evictions += c.evictions; tot.cpu += c.faults.cpu; tot.gpu += c.faults.gpu; tot.vm += c.faults.vm; tot.qe += c.queueEvictions; tot.smi += sides[0].text.s.split('\n').length; tot.ranges += sides[0].b.ranges().length; }
  for (const s of sides) s.b.close();
}
console.log(`identical: ${checked} steps over ${SEEDS} seeds`, JSON.stringify(tot));
