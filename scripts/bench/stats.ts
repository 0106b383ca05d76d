/**
 * Sampling and summary statistics for the benchmarks. Every figure is a median over repeated samples with
 * the min and the max beside it; ratios are taken sample by sample between cases measured in the same
 * round (interleaved), so drift on a shared machine hits both sides of a ratio alike.
 */

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** How many samples the summary is over. */
  n: number;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('summarize: no samples');
  for (const s of samples) {
    if (!Number.isFinite(s)) throw new RangeError(`summarize: non-finite sample ${s}`);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length };
}

/** Sample-by-sample ratio a[i] / b[i] of two series taken in the same rounds. */
export function pairedRatio(a: readonly number[], b: readonly number[]): Summary {
  if (a.length !== b.length) throw new RangeError(`pairedRatio: ${a.length} vs ${b.length} samples`);
  return summarize(a.map((x, i) => x / b[i]!));
}

/** Sample-by-sample difference a[i] - b[i]. */
export function pairedDiff(a: readonly number[], b: readonly number[]): Summary {
  if (a.length !== b.length) throw new RangeError(`pairedDiff: ${a.length} vs ${b.length} samples`);
  return summarize(a.map((x, i) => x - b[i]!));
}

/** Nanoseconds since an arbitrary origin, as a number (exact below 2^53 ns, ~104 days). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Times `ops` operations done by `fn` once and returns nanoseconds per operation. */
export function timePerOp(ops: number, fn: () => void): number {
  const t0 = nowNs();
  fn();
  return (nowNs() - t0) / ops;
}

/** The same for an async body. */
export async function timePerOpAsync(ops: number, fn: () => Promise<void>): Promise<number> {
  const t0 = nowNs();
  await fn();
  return (nowNs() - t0) / ops;
}
