import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNodeReport, type NodeReport } from '../../src/report/node-report.js';
import { spawn, spawnSync } from 'node:child_process';
import { cleanEnv, collect, ensureBuilt, HAS_KFD, MAIN, runCli } from './run-cli.js';

beforeAll(ensureBuilt);
const tmp = mkdtempSync(join(tmpdir(), 'kfd-svm-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const PROFILES = ['mi250x', 'mi210', 'mi300a', 'mi300x', 'cpu-only'];

interface InfoJson {
  backend: string;
  fallbackReason: string | null;
  profile: string | null;
  kfdVersion: { major: number; minor: number };
  xnack: boolean | null;
  gpus: { gpuId: number; name: string; gfxTarget: string; vramBytes: number; coherent: boolean; apu: boolean; svmCapable: boolean; xnackCapable: boolean; availableBytes: number | null }[];
  spmRanges: { start: string | null; size: number | null; gpuId: number | null }[];
}

/** TAP 14 as a consumer reads it: the points, their numbers in order, the plan. */
function parseTap(text: string): { points: { ok: boolean; n: number; text: string; skip: boolean }[]; plan: number } {
  const lines = text.split('\n');
  expect(lines[0]).toBe('TAP version 14');
  const points = lines
    .map((l) => /^(not ok|ok) (\d+) - (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ ok: m[1] === 'ok', n: Number(m[2]), text: m[3]!, skip: / # SKIP /.test(m[3]!) }));
  const plan = lines.map((l) => /^1\.\.(\d+)$/.exec(l)).find((m) => m !== null);
  expect(plan, 'a plan line').toBeTruthy();
  points.forEach((p, i) => expect(p.n).toBe(i + 1));
  return { points, plan: Number(plan![1]) };
}

describe.concurrent('kfd-svm info', () => {
  it('with no flags: the simulator, saying why, and the default mi250x machine', async () => {
    const r = await runCli(['info', '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as InfoJson;
    expect(info.backend).toBe('sim');
    if (!HAS_KFD) expect(info.fallbackReason).toMatch(/\/dev\/kfd/);
    expect(info.kfdVersion.major).toBe(1);
    expect(info.kfdVersion.minor).toBeGreaterThanOrEqual(5);
    expect(typeof info.xnack).toBe('boolean');
    expect(info.gpus).toHaveLength(8);
    for (const g of info.gpus) {
      expect(g).toMatchObject({ gfxTarget: 'gfx90a', coherent: true, apu: false, svmCapable: true, vramBytes: 64 * 1024 ** 3 });
      expect(g.availableBytes).toBeGreaterThan(0);
    }
    expect(info.spmRanges.length).toBe(8);
  });

  it('--profile mi210: PCIe GPUs, no special-purpose memory', async () => {
    const r = await runCli(['--profile', 'mi210', 'info', '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as InfoJson;
    expect(info.profile).toBe('mi210');
    expect(info.gpus.length).toBeGreaterThan(0);
    expect(info.gpus.every((g) => !g.coherent)).toBe(true);
    expect(info.spmRanges).toEqual([]);
  });

  it('the options also work after the command, and KFD_SVM_PROFILE steers it', async () => {
    const a = JSON.parse((await runCli(['info', '--profile', 'cpu-only', '--json'])).stdout) as InfoJson;
    expect(a.gpus).toEqual([]);
    const b = JSON.parse((await runCli(['info', '--json'], { KFD_SVM_PROFILE: 'mi300a' })).stdout) as InfoJson;
    expect(b.gpus.every((g) => g.apu)).toBe(true);
  });

  it('the text form names the backend, the reason, each GPU and the memory ranges', async () => {
    const r = await runCli(['info']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Backend:\s+sim/m);
    if (!HAS_KFD) expect(r.stdout).toMatch(/^Why:\s+not the kernel: .*\/dev\/kfd/m);
    expect(r.stdout).toMatch(/^KFD version:\s+1\.\d+/m);
    expect(r.stdout).toMatch(/^XNACK:\s+(on|off)/m);
    expect(r.stdout.match(/gfx90a/g)!.length).toBeGreaterThanOrEqual(8);
    expect(r.stdout).toContain('coherent (VRAM in place)');
    expect(r.stdout).toContain('Special-purpose memory');
  });
});

describe.concurrent('kfd-svm smoke', () => {
  it.each(PROFILES)('exit code 0 and a complete passing JSON report on the %s profile', async (profile) => {
    const r = await runCli(['smoke', '--json', '--size', '2M', '--profile', profile]);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as NodeReport;
    const failed = report.checks.filter((c) => c.status === 'fail');
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    expect(r.code).toBe(0);
    expect(report).toMatchObject({ format: 'kfd-svm-node-report', kind: 'smoke', complete: true, ok: true, backend: 'sim', profile });
    const ids = new Set(report.checks.map((c) => c.id));
    for (const id of ['device-open', 'versions', 'topology-iomem', 'alloc-free', 'attributes', 'prefetch-roundtrip', 'cpu-access', 'copy-io', 'events', 'bad-inputs']) {
      expect(ids, id).toContain(id);
    }
    if (profile === 'cpu-only') {
      expect(report.checks.find((c) => c.id === 'prefetch-roundtrip')!.status).toBe('skip');
    } else {
      // Every GPU got its per-GPU checks, and each prefetch round trip ran.
      const prefetch = report.checks.filter((c) => c.id === 'prefetch-roundtrip');
      expect(prefetch).toHaveLength(report.gpus.length);
      expect(prefetch.every((c) => c.status === 'pass')).toBe(true);
    }
    if (profile === 'mi250x' || profile === 'mi210' || profile === 'mi300x') {
      // Bandwidth from the simulated clock: one sample per GPU and direction, at the smoke buffer size.
      expect(report.bandwidth).toHaveLength(report.gpus.length * 2);
      expect(report.bandwidth.every((s) => s.clock === 'sim' && s.bytesPerSecond > 1e8)).toBe(true);
    }
  });

  it('TAP by default: numbered points and a plan that matches', async () => {
    const r = await runCli(['smoke', '--gpu', '0,3']);
    expect(r.code).toBe(0);
    const { points, plan } = parseTap(r.stdout);
    expect(points).toHaveLength(plan);
    expect(points.every((p) => p.ok)).toBe(true);
    // --gpu 0,3: per-GPU checks run for exactly those two.
    expect(points.filter((p) => p.text.startsWith('prefetch to GPU'))).toHaveLength(2);
  });

  // util-linux `script` gives the command a pseudo-terminal, as a person's shell would.
  it.skipIf(spawnSync('script', ['--version']).status !== 0)('on a terminal: a progress bar on stderr, and every TAP line still printed', async () => {
    const child = spawn('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} smoke --profile mi210`, '/dev/null'], {
      env: cleanEnv({ TERM: 'xterm' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r = await collect(child);
    expect(r.code).toBe(0);
    // eslint-disable-next-line no-control-regex
    // Each escape sequence (cursor moves, line clears) becomes a line break, so what was drawn over stays apart.
    const text = r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n').replace(/\r/g, '');
    expect(text).toMatch(/[█░] *\d+\/14 /); // the bar, with its step count
    // Bar redraws share lines with the output in the raw capture; every point must be there once.
    const numbers = [...text.matchAll(/^ok (\d+) - /gm)].map((m) => Number(m[1]));
    expect(numbers).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(text).toMatch(/^1\.\.14$/m);
  });

  it('--budget 0 skips every check after the device opened, with a TAP # SKIP, exit 0', async () => {
    const r = await runCli(['smoke', '--budget', '0']);
    expect(r.code).toBe(0);
    const { points } = parseTap(r.stdout);
    expect(points[0]!.skip).toBe(false);
    expect(points.slice(1).every((p) => p.skip && /# SKIP time budget of 0 s used up/.test(p.text))).toBe(true);
  });

  // On a machine with a usable /dev/kfd the kernel backend opens; this case needs one without.
  it.skipIf(HAS_KFD)('a device that cannot open: not ok, the rest skipped, exit code 1', async () => {
    const r = await runCli(['--backend', 'kfd', 'smoke']);
    expect(r.code).toBe(1);
    const { points } = parseTap(r.stdout);
    expect(points[0]!.ok).toBe(false);
    expect(r.stdout).toMatch(/code: "ENODEV"/);
    expect(points.slice(1).every((p) => p.skip)).toBe(true);
  });

  it('--out writes smoke-<host>.json for Slurm, named after SLURMD_NODENAME, with the job info', async () => {
    const dir = join(tmp, 'out');
    const r = await runCli(['smoke', '--json', '--out', dir, '--gpu', '1'], {
      SLURMD_NODENAME: 'nid000042',
      SLURM_JOB_ID: '777',
      SLURM_JOB_NUM_NODES: '4',
      SLURM_NODEID: '2',
      SLURM_JOB_NODELIST: 'nid[000040-000043]',
    });
    expect(r.code).toBe(0);
    expect(readdirSync(dir)).toEqual(['smoke-nid000042.json']);
    const read = readNodeReport(readFileSync(join(dir, 'smoke-nid000042.json'), 'utf8'));
    expect(read.readable).toBe(true);
    if (!read.readable) return;
    expect(read.warnings).toEqual([]);
    expect(read.report).toMatchObject({ host: 'nid000042', ok: true, complete: true, slurm: { jobId: '777', numNodes: 4, nodeId: 2, nodeList: 'nid[000040-000043]' } });
    expect(read.report.gpus).toHaveLength(1);
    // stdout holds the same report.
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(join(dir, 'smoke-nid000042.json'), 'utf8')));
  });

  it('several tasks on one node (srun --ntasks-per-node=2) write one report each, merged as one node', async () => {
    const dir = join(tmp, 'tasks');
    const env = (localId: number) => ({
      SLURMD_NODENAME: 'nid000007',
      SLURM_JOB_ID: '778',
      SLURM_JOB_NUM_NODES: '1',
      SLURM_STEP_NUM_NODES: '1',
      SLURM_STEP_NUM_TASKS: '2',
      SLURM_STEP_TASKS_PER_NODE: '2',
      SLURM_NODEID: '0',
      SLURM_LOCALID: String(localId),
    });
    const runs = await Promise.all([0, 1].map((t) => runCli(['smoke', '--json', '--out', dir, '--gpu', String(t)], env(t))));
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    expect(readdirSync(dir).sort()).toEqual(['smoke-nid000007.task0.json', 'smoke-nid000007.task1.json']);
    const rep = await runCli(['report', dir, '--json']);
    expect(rep.code).toBe(0);
    const s = JSON.parse(rep.stdout) as { nodes: { total: number; pass: number }; nodeRows: { gpus: number }[]; problems: unknown[] };
    expect(s.nodes).toMatchObject({ total: 1, pass: 1 });
    expect(s.nodeRows[0]?.gpus).toBe(2); // each task tested its own GPU
    expect(s.problems).toEqual([]);
    // The second task's report gone (it died before its first write): the node is incomplete.
    rmSync(join(dir, 'smoke-nid000007.task1.json'));
    const short = await runCli(['report', dir, '--json']);
    expect(short.code).toBe(1);
    expect(JSON.parse(short.stdout)).toMatchObject({ nodes: { total: 1, incomplete: 1 } });
  });
});
