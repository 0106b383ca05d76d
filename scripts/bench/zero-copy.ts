/**
 * 2. Zero copy: JS filling and summing the addon's mmap'd external ArrayBuffer (what SvmBuffer.bytes views)
 * against a plain ArrayBuffer of the same size (target: parity), and the cost of getting one: memAlloc +
 * memFree (mmap + external ArrayBuffer + detach + munmap) against `new ArrayBuffer` (V8's calloc, released
 * by the GC).
 */
import type { NativeAddon } from '../../src/backend/kfd/index.js';
import { loadBenchAddon } from './modules.js';
import type { Figure, SectionResult, Target } from './report-types.js';
import { fmtSummary, num } from './report.js';
import { pairedRatio, summarize, timePerOp, type Summary } from './stats.js';

export interface ZeroCopyOptions {
  quick: boolean;
}

let sink = 0;

/** Writes every u32 with a JS loop (the way user code fills a view). */
function fillLoop(a: Uint32Array): void {
  for (let i = 0; i < a.length; i++) a[i] = i;
}
function sumLoop(a: Uint32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}
/** The builtin fill: memset-like, no per-element JS. */
function fillBuiltin(a: Uint32Array): void {
  a.fill(0x5a5a5a5a);
}

const gbps = (nsPerByte: Summary): Summary => ({
  median: 1 / nsPerByte.median,
  min: 1 / nsPerByte.max,
  max: 1 / nsPerByte.min,
  n: nsPerByte.n,
});

export async function benchZeroCopy(opts: ZeroCopyOptions): Promise<SectionResult> {
  const addonOrReason = await loadBenchAddon();
  if (typeof addonOrReason === 'string') throw new Error(`the addon does not load: ${addonOrReason}`);
  const addon: NativeAddon = addonOrReason;
  const q = opts.quick;
  const size = q ? 1 << 20 : 64 << 20;
  const rounds = q ? 3 : 9;
  const notes = [
    `${num(size / (1 << 20))} MiB as Uint32Array: the addon's memAlloc buffer (mmap, external ArrayBuffer) against` +
      ` new ArrayBuffer; both touched before timing; ${rounds} rounds, cases interleaved.`,
  ];

  const ext = addon.memAlloc(size);
  if (ext.buffer === null) throw new Error('bench: this runtime forbids external ArrayBuffers (memAlloc gave buffer: null)');
  const extView = new Uint32Array(ext.buffer);
  const plainView = new Uint32Array(new ArrayBuffer(size));
  if (extView.length !== plainView.length) throw new Error(`bench: memAlloc gave ${ext.size} bytes for ${size}`);

  type Kernel = (a: Uint32Array) => unknown;
  // The third is memory-bandwidth bound (a memset), so it shows contention more than access cost; the target
  // is judged on the two JS loops, the way code fills and reads a view.
  const kernels: Array<[string, Kernel, boolean]> = [
    ['fill (JS loop)', fillLoop, true],
    ['sum (JS loop)', (a) => (sink += sumLoop(a)), true],
    ['fill (TypedArray.fill)', fillBuiltin, false],
  ];
  const figures: Figure[] = [];
  const ratios: Figure[] = [];
  let worst = 0;
  for (const [label, k, judged] of kernels) {
    k(extView);
    k(plainView);
    const e: number[] = [];
    const p: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const pair = [() => e.push(timePerOp(size, () => k(extView))), () => p.push(timePerOp(size, () => k(plainView)))];
      pair[r % 2]!();
      pair[(r + 1) % 2]!();
    }
    figures.push({ label: `${label}: addon buffer`, unit: 'GB/s', value: gbps(summarize(e)) });
    figures.push({ label: `${label}: ArrayBuffer`, unit: 'GB/s', value: gbps(summarize(p)) });
    const ratio = pairedRatio(e, p);
    if (judged) worst = Math.max(worst, ratio.median);
    ratios.push({ label: `${label}: time addon / ArrayBuffer`, unit: '×', value: ratio });
  }
  addon.memFree(ext.handle);

  // Allocation: a view's whole life, for several sizes.
  const allocSizes = q ? [4096, 1 << 20] : [4096, 1 << 20, 64 << 20];
  // Fewer of the big ones: 64 MiB costs a millisecond or more either way.
  const opsFor = (bytes: number): number => (q ? 100 : bytes >= 64 << 20 ? 50 : bytes >= 1 << 20 ? 500 : 5000);
  const keep: ArrayBuffer[] = [];
  for (const bytes of allocSizes) {
    const allocOps = opsFor(bytes);
    const a: number[] = [];
    const p: number[] = [];
    const allocAddon = (): void => {
      for (let i = 0; i < allocOps; i++) {
        const m = addon.memAlloc(bytes);
        addon.memFree(m.handle);
      }
    };
    const allocPlain = (): void => {
      for (let i = 0; i < allocOps; i++) keep[i & 15] = new ArrayBuffer(bytes);
    };
    allocAddon();
    allocPlain();
    for (let r = 0; r < rounds; r++) {
      const pair = [() => a.push(timePerOp(allocOps, allocAddon)), () => p.push(timePerOp(allocOps, allocPlain))];
      pair[r % 2]!();
      pair[(r + 1) % 2]!();
    }
    const sz = bytes >= 1 << 20 ? `${bytes >> 20} MiB` : `${bytes >> 10} KiB`;
    figures.push({ label: `alloc+free ${sz}: addon memAlloc/memFree`, unit: 'ns', value: summarize(a) });
    figures.push({ label: `alloc ${sz}: new ArrayBuffer`, unit: 'ns', value: summarize(p) });
    ratios.push({ label: `alloc ${sz}: addon / new ArrayBuffer`, unit: '×', value: pairedRatio(a, p) });
  }
  keep.length = 0;
  notes.push(
    'alloc: memAlloc + memFree (mmap, external ArrayBuffer, handle, detach, munmap) per op, against new ArrayBuffer' +
      ' (zeroed by calloc, freed by the GC, whose cost lands in the loop); untouched pages in both.',
  );
  void sink;
  const fillRatio = ratios[0]!.value;
  const targets: Target[] = [
    {
      label: 'zero copy: JS access to the addon buffer at parity with ArrayBuffer (worst of the fill and sum loops)',
      goal: '≈ 1× (≤ 1.1×)',
      measured: `${num(worst)}× (fill loop ${fmtSummary(fillRatio, '×')})`,
      met: worst <= 1.1,
    },
  ];
  return { id: 'zero-copy', title: '2. Zero copy', figures, ratios, targets, notes };
}
