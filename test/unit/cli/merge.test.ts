import { describe, expect, it } from 'vitest';
import { hostFromFileName, mergeReports } from '../../../src/report/merge.js';
import { expandTasksPerNode, readNodeReport, slurmFromEnv } from '../../../src/report/node-report.js';
import { expandHostlist, shortHost } from '../../../src/report/hostlist.js';
import { mad, median, outlierBounds } from '../../../src/report/stats.js';
import { asFile, syntheticReport } from './synthetic.js';

const nodes = (n: number): string[] => Array.from({ length: n }, (_, i) => `nid${String(i + 1).padStart(3, '0')}`);

describe('robust statistics', () => {
  it('median and MAD', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(mad([1, 1, 2, 2, 4, 6, 9])).toBe(1);
  });
  it('one bad value does not move the band (unlike mean ± sd)', () => {
    const vals = [10, 10.1, 9.9, 10.05, 9.95, 1];
    const b = outlierBounds(vals, { k: 3, minRelative: 0, minGroup: 3 })!;
    expect(b.median).toBeCloseTo(9.975, 3);
    expect(b.low).toBeGreaterThan(9.5);
    expect(1).toBeLessThan(b.low);
  });
  it('no band for groups below minGroup; a relative floor when MAD is 0', () => {
    expect(outlierBounds([1, 2], { k: 3, minRelative: 0.05, minGroup: 3 })).toBeUndefined();
    const b = outlierBounds([100, 100, 100, 100], { k: 3, minRelative: 0.05, minGroup: 3 })!;
    expect(b.mad).toBe(0);
    expect([b.low, b.high]).toEqual([95, 105]);
  });
});

describe('Slurm host lists', () => {
  it('expands ranges with zero padding, lists and several bracket groups', () => {
    expect(expandHostlist('nid[001-003,007],login1')).toEqual(['nid001', 'nid002', 'nid003', 'nid007', 'login1']);
    expect(expandHostlist('r[1-2]n[01-02]')).toEqual(['r1n01', 'r1n02', 'r2n01', 'r2n02']);
    expect(expandHostlist('single')).toEqual(['single']);
  });
  it('rejects malformed and huge lists', () => {
    expect(() => expandHostlist('nid[3-1]')).toThrow(/bad host range/);
    expect(() => expandHostlist('nid[a-b]')).toThrow(/bad host range/);
    expect(() => expandHostlist('n[0-999999999]')).toThrow(/too long/);
  });
  it('short host names', () => {
    expect(shortHost('nid001.frontier.olcf.ornl.gov')).toBe('nid001');
    expect(hostFromFileName('dir/smoke-nid004.json')).toBe('nid004');
  });
});

describe('reading one node report', () => {
  it('a good report reads back as written, ok recomputed', () => {
    const r = readNodeReport(JSON.stringify(syntheticReport('a')));
    expect(r.readable).toBe(true);
    if (!r.readable) return;
    expect(r.warnings).toEqual([]);
    expect(r.report.ok).toBe(true);
    expect(r.report.checks.length).toBeGreaterThan(9);
  });
  it('truncated, empty, foreign and unknown-version files', () => {
    const text = JSON.stringify(syntheticReport('a'));
    expect(readNodeReport(text.slice(0, text.length / 2))).toMatchObject({ readable: false, reason: expect.stringMatching(/not valid JSON/) });
    expect(readNodeReport('')).toMatchObject({ readable: false, reason: 'empty file' });
    expect(readNodeReport('{"hello":1}')).toMatchObject({ readable: false, notAReport: true });
    expect(readNodeReport('[1,2]')).toMatchObject({ readable: false, notAReport: true });
    expect(readNodeReport(JSON.stringify({ ...syntheticReport('a'), version: 'two' }))).toMatchObject({ readable: false, reason: expect.stringMatching(/unknown report version/) });
    const newer = readNodeReport(JSON.stringify({ ...syntheticReport('a'), version: 7, newField: { x: 1 } }));
    expect(newer.readable).toBe(true);
    if (newer.readable) expect(newer.warnings.join()).toMatch(/version 7 is newer/);
  });
  it('a report claiming ok with a failure is not ok; malformed entries are dropped and noted', () => {
    const rep = syntheticReport('a', { fail: ['attributes'] });
    const text = JSON.stringify({ ...rep, ok: true, checks: [...rep.checks, { id: 5 }, 'junk'], bandwidth: 'nope' });
    const r = readNodeReport(text);
    expect(r.readable).toBe(true);
    if (!r.readable) return;
    expect(r.report.ok).toBe(false);
    expect(r.warnings.join('\n')).toMatch(/2 malformed "checks" entries/);
    expect(r.warnings.join('\n')).toMatch(/"bandwidth" is not a list/);
    expect(r.warnings.join('\n')).toMatch(/says ok but/);
  });
});

describe('mergeReports', () => {
  it('puts failing nodes first and computes pass rates per check over nodes', () => {
    const files = nodes(10).map((h, i) => asFile(syntheticReport(h, i === 6 ? { fail: ['prefetch-roundtrip'] } : i === 8 ? { fail: ['prefetch-roundtrip', 'events'] } : {})));
    const s = mergeReports(files);
    expect(s.ok).toBe(false);
    expect(s.nodeRows.slice(0, 2).map((r) => [r.host, r.status])).toEqual([
      ['nid007', 'fail'],
      ['nid009', 'fail'],
    ]);
    expect(s.nodeRows.slice(2).every((r) => r.status === 'pass')).toBe(true);
    // Natural order among passing nodes.
    expect(s.nodeRows[2]!.host).toBe('nid001');
    expect(s.nodeRows.at(-1)!.host).toBe('nid010');
    const prefetch = s.checks.find((c) => c.id === 'prefetch-roundtrip')!;
    expect(prefetch).toMatchObject({ nodesPassed: 8, nodesFailed: 2, passRate: 0.8, failingHosts: ['nid007', 'nid009'] });
    expect(s.checks.find((c) => c.id === 'events')!.passRate).toBe(0.9);
    expect(s.checks.find((c) => c.id === 'versions')!.passRate).toBe(1);
    expect(s.nodes).toMatchObject({ total: 10, pass: 8, fail: 2 });
  });

  it('every node passing gives ok', () => {
    const s = mergeReports(nodes(4).map((h) => asFile(syntheticReport(h))));
    expect(s.ok).toBe(true);
    expect(s.problems).toEqual([]);
  });

  it('flags a slow GPU as a low bandwidth outlier within its kind, and only it', () => {
    const files = nodes(12).map((h, i) => asFile(syntheticReport(h, { bandwidth: (g) => (i === 4 && g === 3 ? 12e9 : 36e9 + (i % 3) * 0.2e9 + g * 0.05e9) })));
    const s = mergeReports(files);
    const toGpu = s.bandwidth.filter((g) => g.direction === 'to-gpu');
    expect(toGpu).toHaveLength(1);
    expect(toGpu[0]!.n).toBe(96);
    expect(toGpu[0]!.outliers).toEqual([expect.objectContaining({ host: 'nid005', gpuId: 0x1003, side: 'low' })]);
    expect(s.nodeRows.find((r) => r.host === 'nid005')!.outliers).toBe(2);
    // Outliers are reported but do not fail the run.
    expect(s.ok).toBe(true);
  });

  it('compares bandwidth only within the same GPU kind and size', () => {
    const a = syntheticReport('a', { gpus: 1, bandwidth: 36e9 });
    const b = syntheticReport('b', { gpus: 1, bandwidth: 36e9 });
    const c = syntheticReport('c', { gpus: 1, bandwidth: 36e9 });
    const pcie = syntheticReport('d', { gpus: 1, bandwidth: 24e9 });
    for (const bw of pcie.bandwidth) {
      bw.gpuName = 'AMD Instinct MI210';
      bw.gfxTarget = 'gfx90a';
    }
    const s = mergeReports([a, b, c, pcie].map((r) => asFile(r)));
    expect(s.bandwidth.every((g) => g.outliers.length === 0)).toBe(true);
    const mi210 = s.bandwidth.find((g) => g.gpuName === 'AMD Instinct MI210')!;
    expect(mi210.low).toBeNull(); // one sample: too few to judge
  });

  it('keeps GPUs the topology names alike apart by link and VRAM (MI210 PCIe vs MI250X coherent, both "aldebaran")', () => {
    const reports = ['a', 'b', 'c', 'd', 'e', 'f'].map((h, i) => {
      const pcie = i >= 3;
      const r = syntheticReport(h, { gpus: 2, bandwidth: pcie ? 24e9 : 36e9 });
      for (const s of r.bandwidth) Object.assign(s, { gpuName: 'aldebaran', link: pcie ? 'pcie' : 'coherent', vramBytes: 64 * 1024 ** 3 });
      return r;
    });
    const s = mergeReports(reports.map((r) => asFile(r)));
    expect(s.bandwidth.map((g) => [g.link, g.direction, g.n])).toEqual([
      ['coherent', 'to-gpu', 6],
      ['coherent', 'to-system', 6],
      ['pcie', 'to-gpu', 6],
      ['pcie', 'to-system', 6],
    ]);
    expect(s.bandwidth.every((g) => g.outliers.length === 0)).toBe(true);
  });

  it('broken, partial, duplicate, foreign and unknown-version files', () => {
    const files = [
      asFile(syntheticReport('nid001')),
      asFile(syntheticReport('nid002')),
      // Truncated mid-write: the node died.
      { file: 'smoke-nid003.json', text: JSON.stringify(syntheticReport('nid003')).slice(0, 200) },
      // Unfinished run: complete false, only some checks.
      asFile({ ...syntheticReport('nid004', { complete: false }), checks: syntheticReport('nid004').checks.slice(0, 3) }),
      // Same host twice: the newer one counts.
      asFile(syntheticReport('nid005', { startedAt: '2026-01-01T00:00:00Z', fail: ['attributes'] }), 'smoke-nid005.json'),
      asFile(syntheticReport('nid005', { startedAt: '2026-01-02T00:00:00Z' }), 'smoke-nid005-rerun.json'),
      // Not a node report at all.
      { file: 'summary.json', text: '{"format":"someone-elses-tool","version":1}' },
      // A merged summary saved beside the reports: skipped without a word.
      { file: 'kfd-summary.json', text: '{"format":"kfd-svm-report-summary","version":1}' },
      // Unknown future version that still has the fields: read, with a warning.
      asFile({ ...syntheticReport('nid006'), version: 3 }),
      // Unknown version marker: unreadable.
      { file: 'smoke-nid007.json', text: JSON.stringify({ ...syntheticReport('nid007'), version: null }) },
      // Empty file.
      { file: 'smoke-nid008.json', text: '' },
    ];
    const s = mergeReports(files);
    const status = Object.fromEntries(s.nodeRows.map((r) => [r.host, r.status]));
    expect(status).toEqual({
      nid001: 'pass',
      nid002: 'pass',
      nid003: 'unreadable',
      nid004: 'incomplete',
      nid005: 'pass',
      nid006: 'pass',
      nid007: 'unreadable',
      nid008: 'unreadable',
    });
    expect(s.nodeRows.map((r) => r.status)).toEqual(['incomplete', 'unreadable', 'unreadable', 'unreadable', 'pass', 'pass', 'pass', 'pass']);
    expect(s.nodes).toMatchObject({ total: 8, pass: 4, incomplete: 1, unreadable: 3 });
    expect(s.ok).toBe(false);
    const problems = s.problems.map((p) => `${p.file}: ${p.problem}`).join('\n');
    expect(problems).toMatch(/smoke-nid005.json: duplicate smoke report for host nid005: kept smoke-nid005-rerun.json/);
    expect(problems).toMatch(/summary.json: not a kfd-svm node report: ignored/);
    expect(problems).not.toMatch(/kfd-summary/);
    expect(problems).toMatch(/smoke-nid006.json: report version 3 is newer/);
    expect(problems).toMatch(/smoke-nid003.json: not valid JSON/);
    expect(s.nodeRows.find((r) => r.host === 'nid004')!.reason).toMatch(/did not finish \(3 checks recorded\)/);
    // The partial node's checks count where they ran.
    expect(s.checks.find((c) => c.id === 'device-open')!.nodesPassed).toBe(5);
    expect(s.checks.find((c) => c.id === 'attributes')!.nodesPassed).toBe(4);
  });

  it('a finished duplicate wins over an unfinished newer one', () => {
    const s = mergeReports([
      asFile(syntheticReport('x', { startedAt: '2026-01-01T00:00:00Z' }), 'a.json'),
      asFile(syntheticReport('x', { startedAt: '2026-01-02T00:00:00Z', complete: false }), 'b.json'),
    ]);
    expect(s.nodeRows).toHaveLength(1);
    expect(s.nodeRows[0]).toMatchObject({ status: 'pass', file: 'a.json' });
  });

  it('the reports of several tasks on one node (one per GPU) make one node row; the same task twice is a duplicate', () => {
    const task = (host: string, t: number, o: Parameters<typeof syntheticReport>[1] = {}) => {
      const r = syntheticReport(host, { gpus: 1, ...o });
      r.gpus = r.gpus.map((g) => ({ ...g, gpuId: 0x2000 + t })); // one GPU per task, each its own
      r.slurm = { jobId: '9', numNodes: 2, task: t, tasksOnNode: 4 };
      return asFile(r, `smoke-${host}.task${t}.json`);
    };
    const s = mergeReports([
      ...[0, 1, 2, 3].map((t) => task('nid001', t, t === 2 ? { fail: ['prefetch-roundtrip'] } : {})),
      ...[0, 1, 2, 3].map((t) => task('nid002', t)),
      task('nid002', 3, { startedAt: '2025-12-31T00:00:00.000Z' }),
    ]);
    expect(s.nodes).toMatchObject({ total: 2, pass: 1, fail: 1 });
    expect(s.nodeRows.map((r) => [r.host, r.status, r.gpus, r.passed + r.failed + r.skipped])).toEqual([
      ['nid001', 'fail', 4, 4 * 10],
      ['nid002', 'pass', 4, 4 * 10],
    ]);
    // A check counts once per node, failing there if any task failed it.
    expect(s.checks.find((c) => c.id === 'prefetch-roundtrip')).toMatchObject({ nodesPassed: 1, nodesFailed: 1, failingHosts: ['nid001'] });
    expect(s.checks.find((c) => c.id === 'device-open')).toMatchObject({ nodesPassed: 2, nodesFailed: 0 });
    expect(s.problems).toEqual([{ file: 'smoke-nid002.task3.json', problem: expect.stringMatching(/duplicate smoke report for host nid002 task 3: kept smoke-nid002\.task3\.json/) }]);
    expect(hostFromFileName('out/smoke-nid007.task12.json')).toBe('nid007');

    // A task that died before its first write: the node is incomplete, and the row says how many reported.
    const short = mergeReports([0, 1, 3].map((t) => task('nid003', t)));
    expect(short.nodeRows[0]).toMatchObject({ host: 'nid003', status: 'incomplete', gpus: 3, reason: '3 of 4 smoke tasks reported' });
    expect(short.ok).toBe(false);
  });

  it("Slurm's compressed tasks-per-node lists expand node by node", () => {
    expect(expandTasksPerNode('2(x3),1')).toEqual([2, 2, 2, 1]);
    expect(expandTasksPerNode('8')).toEqual([8]);
    for (const bad of ['', 'x', '2(x)', '2(3)', '1,,2', '1(x999999)']) expect(expandTasksPerNode(bad)).toBeUndefined();
    expect(slurmFromEnv({ SLURM_JOB_ID: '1', SLURM_NODEID: '2', SLURM_LOCALID: '1', SLURM_STEP_NUM_TASKS: '7', SLURM_STEP_NUM_NODES: '4', SLURM_STEP_TASKS_PER_NODE: '2(x3),1' })).toMatchObject({ task: 1, tasksOnNode: 2 });
    // One task per node: no task suffix, no per-task bookkeeping.
    expect(slurmFromEnv({ SLURM_JOB_ID: '1', SLURM_NODEID: '0', SLURM_LOCALID: '0', SLURM_STEP_NUM_TASKS: '4', SLURM_STEP_NUM_NODES: '4' })).not.toHaveProperty('task');
  });

  it('names missing nodes from the Slurm node list, and counts unnamed ones from --expect', () => {
    const list = 'nid[001-006]';
    const files = ['nid001', 'nid002', 'nid004', 'nid006'].map((h) => asFile(syntheticReport(h, { numNodes: 6, nodeList: list })));
    const s = mergeReports(files);
    expect(s.nodes).toMatchObject({ total: 6, missing: 2, expected: 6 });
    expect(s.nodeRows.filter((r) => r.status === 'missing').map((r) => r.host)).toEqual(['nid003', 'nid005']);
    expect(s.ok).toBe(false);

    const t = mergeReports(['a', 'b'].map((h) => asFile(syntheticReport(h))), { expect: 5 });
    expect(t.nodes).toMatchObject({ total: 5, pass: 2, missing: 3, expected: 5 });
    expect(t.ok).toBe(false);
  });

  it('an empty input is not ok', () => {
    const s = mergeReports([]);
    expect(s.ok).toBe(false);
    expect(s.nodes.total).toBe(0);
  });

  it('scales to many nodes', () => {
    const files = nodes(512).map((h, i) => asFile(syntheticReport(h, { fail: i % 97 === 0 ? ['events'] : [] })));
    const s = mergeReports(files);
    expect(s.nodes.total).toBe(512);
    expect(s.nodes.fail).toBe(6);
    expect(s.nodeRows.slice(0, 6).every((r) => r.status === 'fail')).toBe(true);
  });
});
