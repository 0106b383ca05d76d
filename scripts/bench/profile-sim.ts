/**
 * Where the simulator's time goes: runs one kind of call (set / get / prefetch) against N registered ranges
 * (or one span of a given size) under the V8 CPU profiler and the sampling heap profiler, writes the
 * .cpuprofile / .heapprofile into bench/out/profiles/ (open them in Chrome DevTools) and prints the functions
 * with the most self time and the sites that allocate the most.
 *
 *   npm run build && node scripts/bench/build.mjs
 *   node bench/out/js/profile-sim.js --op set --ranges 100000 [--size 4096] [--calls 30000] [--step 1]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importDist, repoRoot } from './modules.js';

type SimModule = typeof import('../../src/backend/sim/index.js');
type AbiModule = typeof import('../../src/backend/abi.js');

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
}
interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const where = (f: { functionName: string; url: string; lineNumber: number }): string =>
  `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-3).join('/')}:${f.lineNumber + 1}`;

/** Self samples per function, as percentages of all samples (counts, not time deltas, so waits are not charged). */
export function topSelf(p: CpuProfile, n: number): Array<[string, number]> {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const hits = new Map<string, number>();
  for (const id of p.samples) {
    const node = byId.get(id);
    if (!node) continue;
    const key = where(node.callFrame);
    hits.set(key, (hits.get(key) ?? 0) + 1);
  }
  const total = p.samples.length || 1;
  return [...hits].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, (100 * v) / total]);
}

/** Bytes allocated (sampled) per site. */
export function topAlloc(root: HeapNode, n: number): Array<[string, number]> {
  const bytes = new Map<string, number>();
  const walk = (h: HeapNode): void => {
    if (h.selfSize > 0) bytes.set(where(h.callFrame), (bytes.get(where(h.callFrame)) ?? 0) + h.selfSize);
    for (const c of h.children) walk(c);
  };
  walk(root);
  return [...bytes].sort((a, b) => b[1] - a[1]).slice(0, n);
}

async function main(): Promise<void> {
  // `| head` closes the pipe early: stop quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const { values } = parseArgs({
    options: {
      op: { type: 'string', default: 'set' },
      ranges: { type: 'string', default: '100000' },
      size: { type: 'string', default: '4096' },
      calls: { type: 'string', default: '30000' },
      top: { type: 'string', default: '20' },
      // Distance between consecutive ranges visited (default: 7919, coprime to the count, when there are more).
      step: { type: 'string' },
    },
  });
  const op = values.op ?? 'set';
  if (op !== 'set' && op !== 'get' && op !== 'prefetch') throw new Error(`--op must be set, get or prefetch`);
  const count = Number(values.ranges);
  const size = Number(values.size);
  const calls = Number(values.calls);
  const top = Number(values.top);
  const { createSimBackend } = await importDist<SimModule>('backend/sim/index.js');
  const { SvmAttrType, SvmFlag, SvmLocation } = await importDist<AbiModule>('backend/abi.js');
  const b = createSimBackend({ profile: 'mi250x' });
  const gpu = b.processApertures()[0];
  const t = b.machine.topology;
  if (!gpu || !t) throw new Error('the profile has no GPU');
  let minor = -1;
  for (const node of t.listDir('nodes') ?? []) {
    if (Number(t.readFile(`nodes/${node}/gpu_id`)) !== gpu.gpuId) continue;
    minor = Number(/^drm_render_minor (\d+)$/m.exec(t.readFile(`nodes/${node}/properties`) ?? '')?.[1]);
  }
  b.acquireVm(gpu.gpuId, minor);
  const stride = count === 1 ? size : size + 4096;
  const mem = b.alloc(stride * count);
  const starts = Array.from({ length: count }, (_, i) => mem.address + BigInt(i * stride));
  const len = BigInt(size);
  for (const s of starts) await b.svmSetAttr(s, len, [{ type: SvmAttrType.SET_FLAGS, value: SvmFlag.HOST_ACCESS }]);
  const step = values.step !== undefined ? Number(values.step) : count > 7919 ? 7919 : 1;
  if (!Number.isInteger(step) || step < 1) throw new Error('--step must be a positive integer');
  const type = op === 'set' ? SvmAttrType.PREFERRED_LOC : SvmAttrType.PREFETCH_LOC;
  // The cursor carries over from the warm-up to the profiled run, so no call repeats a range's current value.
  let i = 0;
  let flip = false;
  const run = async (k: number): Promise<number> => {
    const t0 = performance.now();
    for (let c = 0; c < k; c++) {
      if (op === 'get') b.svmGetAttr(starts[i]!, len, [{ type: SvmAttrType.PREFERRED_LOC, value: 0 }]);
      else await b.svmSetAttr(starts[i]!, len, [{ type, value: flip ? SvmLocation.SYSMEM : gpu.gpuId }]);
      i = (i + step) % count;
      if (i === 0) flip = !flip;
    }
    return (k * 1000) / (performance.now() - t0);
  };
  await run(Math.min(calls, 5000));
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    // Count what the GC already took back too: short-lived garbage is what costs GC time here.
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as never);
  await session.post('Profiler.start');
  const rate = await run(calls);
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
  const { profile: heap } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: HeapNode } };
  session.disconnect();
  const dir = join(repoRoot, 'bench', 'out', 'profiles');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `sim-${op}-${count}x${size}`);
  writeFileSync(`${base}.cpuprofile`, JSON.stringify(profile));
  writeFileSync(`${base}.heapprofile`, JSON.stringify(heap));
  const migrations = b.counters().migrations;
  process.stdout.write(`${op} × ${calls} over ${count} range(s) of ${size} B: ${Math.round(rate)} calls/s` +
    (op === 'prefetch' ? ` (${migrations} migrations in all)` : '') + `\nself time:\n`);
  for (const [k, v] of topSelf(profile, top)) process.stdout.write(`  ${v.toFixed(1).padStart(5)}%  ${k}\n`);
  process.stdout.write('allocations (sampled bytes):\n');
  for (const [k, v] of topAlloc(heap.head, Math.min(top, 12))) process.stdout.write(`  ${String(Math.round(v / 1024)).padStart(8)} KiB  ${k}\n`);
  process.stdout.write(`profiles: ${base}.cpuprofile, .heapprofile\n`);
  b.close();
}

await main();
