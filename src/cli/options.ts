/**
 * Option value parsers. Each throws commander's InvalidArgumentError with a sentence saying what was
 * expected, which commander prints as "error: option '--x <v>' argument 'bad' is invalid. <sentence>"
 * (and the CLI exits 2).
 */
import { InvalidArgumentError } from 'commander';
import { UsageError } from './errors.js';

export function parseSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError('Expected a number of seconds, 0 or more (e.g. 60 or 2.5).');
  }
  return n;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('Expected a whole number, 1 or more.');
  }
  return n;
}

export function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('Expected a number above 0.');
  return n;
}

/** A GPU named on the command line: a gpu_id (decimal or 0x hex) or an index into the device's GPUs. */
export type GpuSelector = { kind: 'number'; value: number; text: string };

/** `--gpu 0,1` / `--gpu 0x1a2b,0x3c4d`: comma-separated, repeatable. */
export function parseGpuList(value: string, previous: GpuSelector[] = []): GpuSelector[] {
  const out = [...previous];
  for (const part of value.split(',')) {
    const text = part.trim();
    if (text === '') continue;
    const n = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text.slice(2), 16) : /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) {
      throw new InvalidArgumentError('Expected GPU ids separated by commas: gpu_ids as `kfd-svm info` shows them, or indexes 0, 1, …');
    }
    out.push({ kind: 'number', value: n, text });
  }
  if (out.length === 0) throw new InvalidArgumentError('Expected at least one GPU.');
  return out;
}

/**
 * Resolves the selectors against the device's GPUs. A selector is a gpu_id if one GPU has that id, else an
 * index into the list (gpu_ids are hashes, far above any index, so the two do not collide in practice).
 * Throws UsageError naming the valid choices.
 */
export function selectGpus<G extends { gpuId: number }>(gpus: readonly G[], selectors: readonly GpuSelector[] | undefined): G[] {
  if (!selectors) return [...gpus];
  const chosen: G[] = [];
  for (const s of selectors) {
    const g = gpus.find((x) => x.gpuId === s.value) ?? (s.value < gpus.length ? gpus[s.value] : undefined);
    if (!g) {
      const valid = gpus.length ? gpus.map((x, i) => `${i} or ${x.gpuId}`).join(', ') : 'none (this machine has no GPU)';
      throw new UsageError(`--gpu ${s.text}: no such GPU (index or gpu_id: ${valid})`);
    }
    if (!chosen.includes(g)) chosen.push(g);
  }
  return chosen;
}

const SIZE_SUFFIX: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** `4K`, `2MiB`, `1G`, `65536`: a byte count (binary units). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const mult = m ? SIZE_SUFFIX[m[2]!.toLowerCase()] : undefined;
  if (!m || mult === undefined) throw new InvalidArgumentError(`"${text}" is not a size: use bytes or a K/M/G suffix (e.g. 64K, 2M, 1G).`);
  const n = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`"${text}" is not a size above 0.`);
  return n;
}

/** `--sizes 4K,64K,2M` or a range `--sizes 4K..1G` (every power of two in between). */
export function parseSizeList(value: string): number[] {
  const range = /^(.+)\.\.(.+)$/.exec(value.trim());
  let sizes: number[];
  if (range) {
    const lo = parseSize(range[1]!);
    const hi = parseSize(range[2]!);
    if (hi < lo) throw new InvalidArgumentError('The range must go from the smaller size to the larger.');
    sizes = [];
    for (let s = lo; s <= hi; s *= 2) sizes.push(s);
  } else {
    sizes = value.split(',').filter((s) => s.trim() !== '').map(parseSize);
  }
  if (sizes.length === 0) throw new InvalidArgumentError('Expected at least one size.');
  for (const s of sizes) {
    if (s % 4096 !== 0) throw new InvalidArgumentError(`${s} bytes is not a multiple of the 4 KiB page: SVM works in whole pages.`);
  }
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/** A comma list of names, each one of `valid` (case-insensitive, '_' and '-' alike). */
export function parseNameList(valid: readonly string[], what: string): (value: string) => string[] {
  const norm = (s: string): string => s.trim().toLowerCase().replace(/_/g, '-');
  return (value: string) => {
    const out: string[] = [];
    for (const part of value.split(',')) {
      if (part.trim() === '') continue;
      const hit = valid.find((v) => norm(v) === norm(part));
      if (!hit) throw new InvalidArgumentError(`Unknown ${what} "${part.trim()}". Valid: ${valid.join(', ')}.`);
      if (!out.includes(hit)) out.push(hit);
    }
    if (out.length === 0) throw new InvalidArgumentError(`Expected at least one ${what}.`);
    return out;
  };
}
