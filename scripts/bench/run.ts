/**
 * `npm run bench` (build: scripts/bench/build.mjs → bench/out/js/run.js): runs the four benchmarks of issue 9 in one process and writes bench/results.json,
 * bench/RESULTS.md and a summary on stdout.
 *
 *   --quick        tiny sizes and few rounds: a smoke of the bench itself (figures not to be quoted)
 *   --out DIR      where results.json and RESULTS.md go (default: bench/ in the repository)
 *   --only LIST    comma-separated sections: bridge, zero-copy, sim, parsers
 *   --null         bridge on /dev/null even where /dev/kfd opens
 *
 * Exit code 1 when a section failed to run (its error is in the results); targets never fail the run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchBridge } from './bridge.js';
import { repoRoot } from './modules.js';
import { benchParsers } from './parsers.js';
import { renderMarkdown, renderSummary } from './report.js';
import type { BenchResults, SectionResult } from './report-types.js';
import { benchSim } from './sim-scaling.js';
import { benchZeroCopy } from './zero-copy.js';

export const SECTION_IDS = ['bridge', 'zero-copy', 'sim', 'parsers'] as const;
export type SectionId = (typeof SECTION_IDS)[number];

export interface RunOptions {
  quick: boolean;
  outDir: string;
  only: readonly SectionId[];
  forceNull: boolean;
  /** Where progress and the summary go (stdout by default). */
  log: (line: string) => void;
}

export function parseRunArgs(argv: readonly string[]): RunOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      null: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const only = values.only === undefined ? [...SECTION_IDS] : values.only.split(',').map((s) => s.trim());
  for (const id of only) {
    if (!(SECTION_IDS as readonly string[]).includes(id)) {
      throw new Error(`bench: unknown section '${id}' (valid: ${SECTION_IDS.join(', ')})`);
    }
  }
  return {
    quick: values.quick ?? false,
    outDir: resolve(values.out ?? join(repoRoot, 'bench')),
    only: only as SectionId[],
    forceNull: values.null ?? false,
    log: (line) => process.stdout.write(line + '\n'),
  };
}

async function runSection(id: SectionId, o: RunOptions): Promise<SectionResult> {
  const q = o.quick;
  switch (id) {
    case 'bridge':
      return benchBridge({ iterations: q ? 20_000 : 1_000_000, rounds: q ? 2 : 11, forceNull: o.forceNull });
    case 'zero-copy':
      return benchZeroCopy({ quick: q });
    case 'sim':
      return benchSim({ quick: q });
    case 'parsers':
      return benchParsers({ quick: q });
  }
}

export async function runBench(o: RunOptions): Promise<{ results: BenchResults; failed: string[] }> {
  const sections: SectionResult[] = [];
  const failed: string[] = [];
  const loadStart = loadavg()[0] ?? 0;
  for (const id of o.only) {
    o.log(`bench: ${id}…`);
    const t0 = Date.now();
    try {
      sections.push(await runSection(id, o));
    } catch (e) {
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      failed.push(id);
      sections.push({ id, title: `${id}: FAILED`, figures: [], ratios: [], targets: [], notes: [`ERROR: ${msg}`] });
    }
    o.log(`bench: ${id} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const cpu = cpus();
  const results: BenchResults = {
    schema: 1,
    generatedAt: new Date().toISOString(),
    quick: o.quick,
    machine: {
      node: process.version,
      v8: process.versions.v8,
      platform: process.platform,
      arch: process.arch,
      kernel: release(),
      cpu: cpu[0]?.model.trim() ?? 'unknown',
      cpus: cpu.length,
      exposeGc: typeof globalThis.gc === 'function',
      loadAverage: { start: loadStart, end: loadavg()[0] ?? 0 },
    },
    sections,
  };
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(o.outDir, 'RESULTS.md'), renderMarkdown(results));
  o.log('');
  o.log(renderSummary(results));
  o.log(`bench: wrote ${join(o.outDir, 'results.json')} and RESULTS.md`);
  return { results, failed };
}

async function main(): Promise<void> {
  let opts: RunOptions;
  try {
    opts = parseRunArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
    return;
  }
  const { failed } = await runBench(opts);
  if (failed.length > 0) {
    process.stderr.write(`bench: failed sections: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
