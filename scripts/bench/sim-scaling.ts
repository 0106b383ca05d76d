/**
 * 3. Simulator scaling, through the Backend contract (svmSetAttr / svmGetAttr) as the API drives it:
 * set / get / prefetch calls per second with 1, 10^3 and 10^5 ranges registered, one 4 KiB range against
 * one 1 GiB and one 64 GiB span, and heap bytes per registered range.
 */
import type { Backend } from '../../src/backend/contract.js';
import { importDist } from './modules.js';
import type { Figure, SectionResult, Target } from './report-types.js';
import { fmtSummary, num } from './report.js';
import { nowNs, pairedRatio, summarize, type Summary } from './stats.js';

type SimModule = typeof import('../../src/backend/sim/index.js');
type AbiModule = typeof import('../../src/backend/abi.js');
type SimBackend = import('../../src/backend/sim/index.js').SimBackend;

const PAGE = 4096;
const GiB = 1 << 30;

export interface SimOptions {
  quick: boolean;
}

interface Gpu {
  gpuId: number;
  drmRenderMinor: number;
}

/** The first GPU of the sim's machine, read from its topology text as the kfd backend would. */
function firstGpu(b: Backend): Gpu {
  const t = b.machine.topology;
  if (!t) throw new Error('bench: the sim has no topology');
  for (const n of t.listDir('nodes') ?? []) {
    const gpuId = Number((t.readFile(`nodes/${n}/gpu_id`) ?? '0').trim());
    if (gpuId === 0) continue;
    const m = /^drm_render_minor (\d+)$/m.exec(t.readFile(`nodes/${n}/properties`) ?? '');
    if (!m) throw new Error(`bench: node ${n} has no drm_render_minor`);
    return { gpuId, drmRenderMinor: Number(m[1]) };
  }
  throw new Error('bench: the sim profile has no GPU');
}

type Op = 'set' | 'get' | 'prefetch';
const OPS: readonly Op[] = ['set', 'get', 'prefetch'];

/** A sim with `count` ranges of one page each, a page apart (so no two ranges touch). */
interface Fixture {
  backend: SimBackend;
  abi: AbiModule;
  gpu: Gpu;
  /** Each range's start, computed once so the timed loops allocate no BigInt of their own. */
  starts: bigint[];
  rangeSize: bigint;
  count: number;
  /** Heap bytes per range (with --expose-gc), else undefined. */
  heapPerRange: number | undefined;
  /** Registrations per second while building the fixture. */
  registerPerSecond: number;
  /** Prefetch calls made and migrations the model counted during them (is each prefetch really moving pages?). */
  prefetchCalls: number;
  migrations: number;
  /**
   * Where each kind of call goes on: the next range and the direction. It carries over from one sample to
   * the next, so every call changes something (a call repeating a range's current value is a no-op in the
   * kernel: svm_range_is_same_attrs).
   */
  cursor: Record<Op, { i: number; flip: boolean }>;
}

function gc(): boolean {
  const g = globalThis.gc;
  if (typeof g !== 'function') return false;
  g();
  g();
  return true;
}

async function makeFixture(sim: SimModule, abi: AbiModule, count: number, rangeSize: number): Promise<Fixture> {
  const { SvmAttrType, SvmFlag } = abi;
  const backend = sim.createSimBackend({ profile: 'mi250x' });
  const gpu = firstGpu(backend);
  backend.acquireVm(gpu.gpuId, gpu.drmRenderMinor);
  const stride = count === 1 ? rangeSize : rangeSize + PAGE;
  const mem = backend.alloc(stride * count);
  const hasGc = gc();
  // The JS heap plus ArrayBuffer backing stores: the model keeps range attributes in typed arrays, which
  // live outside the heap.
  const memoryNow = (): number => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const heap0 = memoryNow();
  const t0 = nowNs();
  const attrs = [{ type: SvmAttrType.SET_FLAGS, value: SvmFlag.HOST_ACCESS }];
  for (let i = 0; i < count; i++) {
    await backend.svmSetAttr(mem.address + BigInt(i * stride), BigInt(rangeSize), attrs);
  }
  const registerNs = nowNs() - t0;
  let heapPerRange: number | undefined;
  if (hasGc) {
    gc();
    heapPerRange = (memoryNow() - heap0) / count;
  }
  const starts = Array.from({ length: count }, (_, i) => mem.address + BigInt(i * stride));
  return {
    backend,
    abi,
    gpu,
    starts,
    rangeSize: BigInt(rangeSize),
    count,
    heapPerRange,
    registerPerSecond: (count * 1e9) / registerNs,
    prefetchCalls: 0,
    migrations: 0,
    cursor: { set: { i: 0, flip: false }, get: { i: 0, flip: false }, prefetch: { i: 0, flip: false } },
  };
}

/**
 * Times `ops` calls of one kind, walking the ranges with a stride coprime to their count so consecutive calls
 * hit ranges far apart in the tree (no locality a real workload would not have). Returns ns per call.
 */
async function timeOps(f: Fixture, op: Op, ops: number): Promise<number> {
  const { SvmAttrType, SvmLocation } = f.abi;
  const b = f.backend;
  const n = f.count;
  const starts = f.starts;
  const step = n > 7919 ? 7919 : 1;
  const gpuLoc = f.gpu.gpuId;
  const cursor = f.cursor[op];
  let i = cursor.i;
  let flip = cursor.flip;
  const migrations0 = op === 'prefetch' ? b.counters().migrations : 0;
  const t0 = nowNs();
  if (op === 'get') {
    const query = [{ type: SvmAttrType.PREFERRED_LOC, value: 0 }];
    for (let k = 0; k < ops; k++) {
      b.svmGetAttr(starts[i]!, f.rangeSize, query);
      i = (i + step) % n;
    }
  } else {
    const type = op === 'set' ? SvmAttrType.PREFERRED_LOC : SvmAttrType.PREFETCH_LOC;
    const toGpu = [{ type, value: gpuLoc }];
    const toSys = [{ type, value: SvmLocation.SYSMEM }];
    for (let k = 0; k < ops; k++) {
      await b.svmSetAttr(starts[i]!, f.rangeSize, flip ? toSys : toGpu);
      i = (i + step) % n;
      // Alternate the target once per pass over all ranges, so every call really changes something.
      if (i === 0) flip = !flip;
    }
  }
  const ns = (nowNs() - t0) / ops;
  cursor.i = i;
  cursor.flip = flip;
  if (op === 'prefetch') {
    f.prefetchCalls += ops;
    f.migrations += b.counters().migrations - migrations0;
  }
  return ns;
}

/**
 * Warms the JIT up on every path the timed loops take, over the first `n` ranges, in passes as the timed
 * loops make them: prefetch to the GPU, SETs and GETs on ranges in VRAM (their prefetch location sticks, so
 * every SET of a range there checks its migration again: svm_range_trigger_migration), prefetch back, SETs
 * on ranges in RAM. Warmed up on fewer paths, the optimized code met a new one inside a timed sample at
 * 10^5 ranges (the timed loops change direction once per pass over the ranges), and its deoptimization
 * and recompilation made that sample up to twice as slow as the rest. The ranges end in system memory
 * with both locations SYSMEM, so the timed calls that follow all change something.
 */
async function warmUp(f: Fixture, n: number): Promise<void> {
  const { SvmAttrType, SvmLocation } = f.abi;
  const b = f.backend;
  const at = (type: number, value: number): Array<{ type: number; value: number }> => [{ type, value }];
  const gpu = f.gpu.gpuId;
  const sys = SvmLocation.SYSMEM;
  const query = at(SvmAttrType.PREFERRED_LOC, 0);
  const passes = [
    at(SvmAttrType.PREFETCH_LOC, gpu),
    at(SvmAttrType.PREFERRED_LOC, gpu),
    at(SvmAttrType.PREFERRED_LOC, sys),
    at(SvmAttrType.PREFETCH_LOC, sys),
    at(SvmAttrType.PREFERRED_LOC, gpu),
    at(SvmAttrType.PREFERRED_LOC, sys),
  ];
  for (const attrs of passes) {
    for (let k = 0; k < n; k++) {
      const start = f.starts[k % f.count]!;
      await b.svmSetAttr(start, f.rangeSize, attrs);
      b.svmGetAttr(start, f.rangeSize, query);
    }
  }
}

const opsPerSecond = (nsPerOp: Summary): Summary => ({
  median: 1e9 / nsPerOp.median,
  min: 1e9 / nsPerOp.max,
  max: 1e9 / nsPerOp.min,
  n: nsPerOp.n,
});

export async function benchSim(opts: SimOptions): Promise<SectionResult> {
  const sim = await importDist<SimModule>('backend/sim/index.js');
  const abi = await importDist<AbiModule>('backend/abi.js');
  const q = opts.quick;
  const counts = q ? [1, 100, 1000] : [1, 1000, 100_000];
  const rounds = q ? 3 : 7;
  const opsPerSample = q ? 500 : 20_000;
  const figures: Figure[] = [];
  const ratios: Figure[] = [];
  const targets: Target[] = [];
  const notes = [
    `mi250x profile, one GPU VM acquired; ranges of one page each, a page apart; each call carries one attribute.`,
    `set = PREFERRED_LOC, get = PREFERRED_LOC query, prefetch = PREFETCH_LOC, alternating GPU and system memory` +
      ` once per pass over the ranges; ${rounds} samples of ${num(opsPerSample)} sequential awaited calls, after a` +
      ` warm-up of ${num(Math.min(opsPerSample, 5000))} ranges × 6 passes through every path they take.`,
  ];

  const migrationNotes: string[] = [];
  // Per count: samples per op in ns/call.
  const byCount = new Map<number, Record<Op, number[]>>();
  for (const count of counts) {
    const f = await makeFixture(sim, abi, count, PAGE);
    const samples: Record<Op, number[]> = { set: [], get: [], prefetch: [] };
    await warmUp(f, Math.min(opsPerSample, 5000));
    for (let r = 0; r < rounds; r++) for (const op of OPS) samples[op].push(await timeOps(f, op, opsPerSample));
    byCount.set(count, samples);
    migrationNotes.push(`${num(count)} × 4 KiB: ${num(f.migrations / f.prefetchCalls)}`);
    for (const op of OPS) {
      figures.push({ label: `${op} @ ${num(count)} ranges`, unit: 'calls/s', value: opsPerSecond(summarize(samples[op])) });
    }
    if (count > 1) {
      figures.push({ label: `register @ ${num(count)} ranges`, unit: 'calls/s', value: summarize([f.registerPerSecond]) });
      // Below 10^3 ranges the heap delta is within GC noise.
      if (f.heapPerRange !== undefined && count >= 1000) {
        figures.push({ label: `memory per range @ ${num(count)} ranges`, unit: 'bytes', value: summarize([f.heapPerRange]) });
      }
    }
    f.backend.close();
  }
  const bigCount = counts[counts.length - 1]!;
  const one = byCount.get(1)!;
  const many = byCount.get(bigCount)!;
  for (const op of OPS) {
    ratios.push({ label: `${op}: time per call @ ${num(bigCount)} / @ 1 range`, unit: '×', value: pairedRatio(many[op], one[op]) });
  }
  const allMany = summarize(OPS.map((op) => 1e9 / summarize(many[op]).median));
  const worst = Math.min(...OPS.map((op) => 1e9 / summarize(many[op]).median));
  targets.push({
    label: `≥ 1M attribute calls/s at ${num(bigCount)} ranges (slowest of set/get/prefetch)`,
    goal: '≥ 1,000,000 calls/s',
    measured: `${num(worst)} calls/s (set/get/prefetch medians ${num(allMany.min)}–${num(allMany.max)})`,
    met: worst >= 1e6,
  });

  // One 4 KiB span against one 1 GiB span and one 64 GiB span, interleaved round by round. The kernel cuts a
  // new span into svm_ranges of at most max_svm_range_pages (svm_range_split_new; svm_range_set_max_pages:
  // clamp(VRAM >> 17, 2^9, 2^18) pages = 1 GiB on a 64 GiB GCD), so 1 GiB is one kernel range and 64 GiB is 64:
  // a SET over 64 GiB walks 64 ranges in the kernel too. Per-range cost is what must not grow with size.
  const sizes = q ? [PAGE, GiB, 2 * GiB] : [PAGE, GiB, 64 * GiB];
  const label = (bytes: number): string => (bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / 1024} KiB`);
  const fx: Fixture[] = [];
  for (const bytes of sizes) fx.push(await makeFixture(sim, abi, 1, bytes));
  const kernelRanges = fx.map((f) => f.backend.ranges().length);
  notes.push(
    `size: one span of ${sizes.map(label).join(', ')}, each registered with one call (${q ? 200 : 2000} calls per sample);` +
      ' the model holds' +
      ` ${kernelRanges.join(', ')} kernel ranges for them (svm_range_split_new cuts at max_svm_range_pages).`,
  );
  // Fewer calls per sample here: a prefetch over 64 kernel ranges costs ~64 times one over a single range.
  const sizeOps = q ? 200 : 2000;
  const bySize: Array<Record<Op, number[]>> = sizes.map(() => ({ set: [], get: [], prefetch: [] }));
  for (const op of OPS) for (const f of fx) await timeOps(f, op, Math.min(sizeOps, 500));
  for (let r = 0; r < rounds; r++) {
    for (const op of OPS) {
      for (let k = 0; k < fx.length; k++) bySize[k]![op].push(await timeOps(fx[k]!, op, sizeOps));
    }
  }
  fx.forEach((f, k) => migrationNotes.push(`${label(sizes[k]!)}: ${num(f.migrations / f.prefetchCalls)}`));
  notes.push(`migrations counted by the model per prefetch call: ${migrationNotes.join('; ')}.`);
  for (const f of fx) f.backend.close();
  let worstOneRange = 0;
  let worstPerRange = 0;
  let worstRaw = 0;
  for (let k = 1; k < sizes.length; k++) {
    for (const op of OPS) {
      const ratio = pairedRatio(bySize[k]![op], bySize[0]![op]);
      const perRange = ratio.median / (kernelRanges[k]! / kernelRanges[0]!);
      if (kernelRanges[k] === kernelRanges[0]) worstOneRange = Math.max(worstOneRange, ratio.median);
      worstPerRange = Math.max(worstPerRange, perRange);
      if (k === sizes.length - 1) worstRaw = Math.max(worstRaw, ratio.median);
      figures.push({ label: `${op} on ${label(sizes[k]!)}`, unit: 'calls/s', value: opsPerSecond(summarize(bySize[k]![op])) });
      ratios.push({ label: `${op}: time per call ${label(sizes[k]!)} / 4 KiB`, unit: '×', value: ratio });
    }
  }
  const biggest = label(sizes[sizes.length - 1]!);
  targets.push({
    label: `${biggest} costs what 4 KiB does (issue 9, raw; worst of set/get/prefetch)`,
    goal: '≈ 1× (≤ 1.5×)',
    measured: `${num(worstRaw)}× (the kernel itself holds ${kernelRanges[kernelRanges.length - 1]} ranges there)`,
    met: worstRaw <= 1.5,
  });
  targets.push({
    label: 'cost per kernel range independent of its size (worst over sizes and ops)',
    goal: '≤ 1.5×',
    measured: `${num(worstPerRange)}× per range (one-range spans: ${num(worstOneRange)}×)`,
    met: worstPerRange <= 1.5,
  });
  const heap = figures.find((f) => f.label.startsWith(`memory per range @ ${num(bigCount)}`));
  if (heap) notes.push(`memory per range: ${fmtSummary(heap.value, 'bytes')} at ${num(bigCount)} ranges (JS heap + ArrayBuffer delta / ranges, after gc).`);
  else notes.push('memory per range: not measured (run node with --expose-gc).');
  return { id: 'sim', title: '3. Simulator scaling', figures, ratios, targets, notes };
}
