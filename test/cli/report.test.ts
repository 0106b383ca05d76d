import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReportSummary } from '../../src/report/merge.js';
import { syntheticReport } from '../unit/cli/synthetic.js';
import { ensureBuilt, runCli } from './run-cli.js';

beforeAll(ensureBuilt);
const tmp = mkdtempSync(join(tmpdir(), 'kfd-svm-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const host = (i: number): string => `nid${String(i).padStart(5, '0')}`;
const N = 64;

/** A 64-node job: a failing node, a slow GPU, a node killed mid-write, one mid-run, a rerun, a stray file, a newer-format node, and two nodes of the Slurm list that wrote nothing. */
function messyJob(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const list = `nid[00001-000${N + 2}]`;
  for (let i = 1; i <= N; i++) {
    const h = host(i);
    const base = { numNodes: N + 2, nodeList: list };
    let text: string;
    if (i === 17) text = JSON.stringify(syntheticReport(h, { ...base, fail: ['prefetch-roundtrip'] }));
    else if (i === 23) text = JSON.stringify(syntheticReport(h, { ...base, bandwidth: (g) => (g === 5 ? 9e9 : 36e9) }));
    else if (i === 31) text = JSON.stringify(syntheticReport(h, base)).slice(0, 300);
    else if (i === 42) text = JSON.stringify({ ...syntheticReport(h, { ...base, complete: false }), checks: syntheticReport(h).checks.slice(0, 4) });
    else if (i === 50) text = JSON.stringify({ ...syntheticReport(h, base), version: 2, somethingNew: [1, 2, 3] });
    else text = JSON.stringify(syntheticReport(h, { ...base, bandwidth: (g) => 36e9 + ((i * 7 + g * 13) % 11) * 0.05e9 }));
    writeFileSync(join(dir, `smoke-${h}.json`), text);
  }
  // A rerun of the failing node that passed: the newer report counts.
  writeFileSync(join(dir, 'smoke-nid00017-rerun.json'), JSON.stringify(syntheticReport(host(17), { startedAt: '2026-02-01T00:00:00Z', numNodes: N + 2, nodeList: list })));
  writeFileSync(join(dir, 'notes.json'), '{"who":"someone else"}');
  writeFileSync(join(dir, 'README.txt'), 'not json at all');
  writeFileSync(join(dir, 'smoke-nid00005.json.tmp-1234'), '{');
}

describe.concurrent('kfd-svm report <dir>', () => {
  it('merges a messy 64-node job: failing nodes first, pass rates, outliers, every input problem named', async () => {
    const dir = join(tmp, 'messy');
    messyJob(dir);
    const summaryFile = join(tmp, 'summary.json');
    const r = await runCli(['report', dir, '--json', '--summary', summaryFile]);
    expect(r.code).toBe(1);
    const s = JSON.parse(r.stdout) as ReportSummary;
    expect(JSON.parse(readFileSync(summaryFile, 'utf8'))).toEqual(s);
    expect(s.nodes).toMatchObject({ total: N + 2, pass: N - 2, incomplete: 1, unreadable: 1, missing: 2, fail: 0, expected: N + 2 });
    // Failing first: incomplete, unreadable, missing; then passing nodes in natural order.
    expect(s.nodeRows.slice(0, 4).map((n) => [n.host, n.status])).toEqual([
      [host(42), 'incomplete'],
      [host(31), 'unreadable'],
      [host(N + 1), 'missing'],
      [host(N + 2), 'missing'],
    ]);
    expect(s.nodeRows.slice(4).every((n) => n.status === 'pass')).toBe(true);
    expect(s.nodeRows[4]!.host).toBe(host(1));
    // The rerun replaced the failing report of nid00017.
    expect(s.nodeRows.find((n) => n.host === host(17))!.status).toBe('pass');
    // The slow GPU is the one low outlier of its kind.
    const outliers = s.bandwidth.flatMap((g) => g.outliers.map((o) => ({ ...o, direction: g.direction })));
    expect(outliers.map((o) => [o.host, o.gpuId, o.side])).toEqual([
      [host(23), 0x1005, 'low'],
      [host(23), 0x1005, 'low'],
    ]);
    const problems = s.problems.map((p) => `${p.file}: ${p.problem}`).join('\n');
    expect(problems).toMatch(/smoke-nid00031.json: not valid JSON/);
    expect(problems).toMatch(/smoke-nid00017.json: duplicate smoke report for host nid00017: kept smoke-nid00017-rerun.json/);
    expect(problems).toMatch(/notes.json: not a kfd-svm node report: ignored/);
    expect(problems).toMatch(/smoke-nid00050.json: report version 2 is newer/);
    expect(problems).not.toMatch(/README|tmp-1234/);
  });

  it('prints tables a person reads, failing nodes at the top', async () => {
    const dir = join(tmp, 'messy-text');
    messyJob(dir);
    const r = await runCli(['report', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^NOT OK: 66 nodes \(expected 66\): 62 pass, 1 incomplete, 1 unreadable, 2 missing$/m);
    const nodeLines = r.stdout.split('\n').filter((l) => /^│ nid\d+/.test(l));
    expect(nodeLines[0]).toMatch(/nid00042 .*INCOMPLETE/);
    expect(nodeLines[1]).toMatch(/nid00031 .*UNREADABLE/);
    expect(r.stdout).toMatch(/│ prefetch-roundtrip +│ 100% /);
    expect(r.stdout).toMatch(/nid00023 gpu 4101: 9\.00 GB\/s \(-75%\)/);
    expect(r.stdout).toContain('Input problems');
    // 61 quiet passing nodes: 32 listed, the rest counted; the node with an outlier is always listed.
    expect(nodeLines).toHaveLength(4 + 1 + 32);
    expect(nodeLines.some((l) => /nid00023/.test(l))).toBe(true);
    expect(r.stdout).toMatch(/^… and 29 more passing nodes \(nid000\d\d, .*\); --all lists them$/m);
    const all = await runCli(['report', dir, '--all']);
    expect(all.stdout.split('\n').filter((l) => /^│ nid\d+/.test(l))).toHaveLength(66);
  });

  it('a clean job: exit 0, pass rates 100%, and failing checks counted per node', async () => {
    const dir = join(tmp, 'clean');
    mkdirSync(dir);
    for (let i = 1; i <= 8; i++) writeFileSync(join(dir, `smoke-${host(i)}.json`), JSON.stringify(syntheticReport(host(i))));
    const ok = await runCli(['report', dir, '--json']);
    expect(ok.code).toBe(0);
    const s = JSON.parse(ok.stdout) as ReportSummary;
    expect(s.ok).toBe(true);
    expect(s.checks.every((c) => c.passRate === 1)).toBe(true);

    writeFileSync(join(dir, `smoke-${host(9)}.json`), JSON.stringify(syntheticReport(host(9), { fail: ['events', 'cpu-access'] })));
    const bad = await runCli(['report', dir, '--json']);
    expect(bad.code).toBe(1);
    const t = JSON.parse(bad.stdout) as ReportSummary;
    expect(t.nodeRows[0]).toMatchObject({ host: host(9), status: 'fail', failedChecks: ['cpu-access', 'events'] });
    expect(t.checks.find((c) => c.id === 'events')).toMatchObject({ nodesPassed: 8, nodesFailed: 1, failingHosts: [host(9)] });
    expect(t.checks.find((c) => c.id === 'events')!.passRate).toBeCloseTo(8 / 9, 6);
  });

  it('--expect counts nodes that wrote nothing; an empty directory is not ok', async () => {
    const dir = join(tmp, 'expect');
    mkdirSync(dir);
    for (let i = 1; i <= 3; i++) writeFileSync(join(dir, `smoke-${host(i)}.json`), JSON.stringify(syntheticReport(host(i))));
    const r = await runCli(['report', dir, '--json', '--expect', '4']);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as ReportSummary).nodes).toMatchObject({ total: 4, missing: 1 });

    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    const e = await runCli(['report', empty]);
    expect(e.code).toBe(1);
    expect(e.stdout).toMatch(/no \.json reports in this directory/);
  });

  it('merges what smoke --out wrote on several "nodes"', async () => {
    const dir = join(tmp, 'real');
    const runs = ['n1', 'n2', 'n3'].map((h) => runCli(['smoke', '--out', dir, '--gpu', '0', '--budget', '30'], { SLURMD_NODENAME: h }));
    for (const r of await Promise.all(runs)) expect(r.code).toBe(0);
    const r = await runCli(['report', dir, '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as ReportSummary;
    expect(s.nodeRows.map((n) => [n.host, n.status])).toEqual([
      ['n1', 'pass'],
      ['n2', 'pass'],
      ['n3', 'pass'],
    ]);
    expect(s.problems).toEqual([]);
    expect(s.bandwidth.every((g) => g.n === 3 && g.outliers.length === 0)).toBe(true);
  });
});
