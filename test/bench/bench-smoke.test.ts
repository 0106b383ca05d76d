/**
 * Keeps `npm run bench` from rotting: compiles the runner as the npm script does and runs it with --quick
 * (tiny sizes) into a temporary directory, then checks the shape of what it wrote. No figure is asserted
 * against a time: the figures of a smoke run mean nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResults } from '../../scripts/bench/report-types.js';
import { repoRoot } from '../../scripts/bench/modules.js';
import { parseRunArgs, SECTION_IDS } from '../../scripts/bench/run.js';
import { pairedRatio, summarize } from '../../scripts/bench/stats.js';
import { generateIomemText, generateTopologyTree } from '../../scripts/bench/generators.js';
import { renderMarkdown } from '../../scripts/bench/report.js';

describe('bench statistics', () => {
  it('summarizes odd and even sample counts by the median, with min and max', () => {
    expect(summarize([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, n: 3 });
    expect(summarize([4, 1, 3, 10])).toEqual({ median: 3.5, min: 1, max: 10, n: 4 });
  });
  it('takes ratios sample by sample, not as a ratio of medians', () => {
    // Medians 2 and 2 (ratio 1), but the paired ratios are 0.5, 1, 4.
    expect(pairedRatio([1, 2, 8], [2, 2, 2])).toEqual({ median: 1, min: 0.5, max: 4, n: 3 });
  });
  it('refuses empty, non-finite and mismatched series', () => {
    expect(() => summarize([])).toThrow(RangeError);
    expect(() => summarize([1, Number.NaN])).toThrow(RangeError);
    expect(() => pairedRatio([1, 2], [1])).toThrow(RangeError);
  });
});

describe('bench arguments', () => {
  it('defaults to every section, full size, results under bench/', () => {
    const o = parseRunArgs([]);
    expect(o.only).toEqual([...SECTION_IDS]);
    expect(o.quick).toBe(false);
    expect(o.outDir).toBe(join(repoRoot, 'bench'));
  });
  it('is what `npm run bench` builds and runs (the smoke below runs the same two steps)', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['bench']).toMatch(/node scripts\/bench\/build\.mjs && node --expose-gc bench\/out\/js\/run\.js$/);
  });
  it('rejects an unknown section and an unknown flag', () => {
    expect(() => parseRunArgs(['--only', 'bridge,nope'])).toThrow(/unknown section 'nope'/);
    expect(() => parseRunArgs(['--fast'])).toThrow();
  });
});

describe('bench input generators', () => {
  it('writes an iomem listing of exactly the asked number of lines, nested two spaces per level', () => {
    const text = generateIomemText(10_000);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(10_000);
    for (const line of lines) expect(line).toMatch(/^( {2}){0,2}[0-9a-f]{8,}-[0-9a-f]{8,} : \S/);
    expect(lines.filter((l) => l.trim().endsWith(': Soft Reserved')).length).toBeGreaterThan(0);
  });
  it('writes a topology whose counts in properties match the directories', () => {
    const tree = generateTopologyTree(64);
    const nodes = tree.listDir('nodes') ?? [];
    expect(nodes).toHaveLength(64);
    for (const n of nodes) {
      const props = tree.readFile(`nodes/${n}/properties`) ?? '';
      const count = (key: string): number => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(props)?.[1]);
      expect(count('caches_count')).toBe(tree.listDir(`nodes/${n}/caches`)?.length ?? 0);
      expect(count('io_links_count')).toBe(tree.listDir(`nodes/${n}/io_links`)?.length ?? 0);
      expect(count('mem_banks_count')).toBe(tree.listDir(`nodes/${n}/mem_banks`)?.length ?? 0);
    }
    expect(tree.readFile('nodes/64/gpu_id')).toBeUndefined();
  });
});

describe('npm run bench --quick', () => {
  let out: string;
  let run: { status: number | null; stdout: string; stderr: string };
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'kfd-svm-bench-'));
    // As the npm script does (dist/ is built by pretest): build the runner, run it over dist/.
    if (!existsSync(join(repoRoot, 'dist', 'index.js'))) {
      execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
        cwd: repoRoot,
      });
    }
    execFileSync(process.execPath, [join(repoRoot, 'scripts/bench/build.mjs')], { cwd: repoRoot });
    const r = spawnSync(process.execPath, ['--expose-gc', join(repoRoot, 'bench/out/js/run.js'), '--quick', '--out', out], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
    });
    run = { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }, 120_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('exits 0 with every section run', () => {
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stderr).toBe('');
  });
  it('writes results.json with every section and sane figures', () => {
    const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as BenchResults;
    expect(r.quick).toBe(true);
    expect(r.machine.exposeGc).toBe(true);
    expect(r.sections.map((s) => s.id)).toEqual([...SECTION_IDS]);
    for (const s of r.sections) {
      expect(s.figures.length, s.id).toBeGreaterThan(0);
      expect(s.targets.length, s.id).toBeGreaterThan(0);
      for (const f of [...s.figures, ...s.ratios]) {
        expect(Number.isFinite(f.value.median), f.label).toBe(true);
        expect(f.value.min, f.label).toBeLessThanOrEqual(f.value.median);
        expect(f.value.median, f.label).toBeLessThanOrEqual(f.value.max);
      }
    }
    const bridge = r.sections.find((s) => s.id === 'bridge')!;
    expect(bridge.notes.join(' ')).toMatch(/GET_VERSION/);
    expect(bridge.figures.map((f) => f.label)).toEqual(expect.arrayContaining(['C loop (floor)', 'koffi']));
  });
  it('writes RESULTS.md rendered from the same results, and a summary on stdout', () => {
    const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as BenchResults;
    const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
    expect(md).toBe(renderMarkdown(r));
    for (const s of r.sections) {
      expect(md).toContain(`## ${s.title}`);
      expect(run.stdout).toContain(`== ${s.title}`);
    }
  });
});
