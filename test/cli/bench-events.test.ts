import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeReport } from '../../src/report/node-report.js';
import { collect, ensureBuilt, runCli, startCli } from './run-cli.js';
import { hasCapSysAdmin } from '../../src/cli/commands/events.js';

beforeAll(ensureBuilt);
const tmp = mkdtempSync(join(tmpdir(), 'kfd-svm-bench-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.concurrent('kfd-svm bench', () => {
  it('--json: both directions for every size of every chosen GPU, from the simulated clock; --svg writes a valid chart', async () => {
    const svg = join(tmp, 'bw.svg');
    const r = await runCli(['bench', '--json', '--gpu', '0,1', '--sizes', '4K,64K,1M,16M', '--repeat', '1', '--calls', '200', '--svg', svg]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as NodeReport;
    expect(report).toMatchObject({ kind: 'bench', complete: true, backend: 'sim' });
    expect(report.bandwidth).toHaveLength(2 * 4 * 2);
    expect(report.bandwidth.every((s) => s.clock === 'sim')).toBe(true);
    expect(report.callOverheadNs).toBeGreaterThan(0);
    // The link's latency is paid per migration, so bandwidth grows with size.
    for (const gpu of report.gpus) {
      for (const dir of ['to-gpu', 'to-system'] as const) {
        const bw = report.bandwidth.filter((s) => s.gpuId === gpu.gpuId && s.direction === dir).sort((a, b) => a.bytes - b.bytes);
        expect(bw.map((s) => s.bytes)).toEqual([4096, 65536, 1 << 20, 16 << 20]);
        for (let i = 1; i < bw.length; i++) expect(bw[i]!.bytesPerSecond).toBeGreaterThan(bw[i - 1]!.bytesPerSecond);
      }
    }
    const text = readFileSync(svg, 'utf8');
    expect(XMLValidator.validate(text)).toBe(true);
    expect(text.match(/<polyline /g)).toHaveLength(4);
  });

  it('the table names each GPU and the per-call overhead', async () => {
    const r = await runCli(['bench', '--profile', 'mi210', '--sizes', '64K,2M', '--repeat', '1', '--calls', '100']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/simulated clock/);
    expect(r.stdout).toMatch(/GPU 0: .*gfx90a.*PCIe/);
    expect(r.stdout).toMatch(/\d+(\.\d+)? GB\/s|MB\/s/);
    expect(r.stdout).toMatch(/Per-call overhead .*: \d/);
  });

  it('nothing to migrate (no GPU; an APU) is measured as nothing and said so, exit 0', async () => {
    const [none, apu] = await Promise.all([
      runCli(['bench', '--profile', 'cpu-only', '--sizes', '64K']),
      runCli(['bench', '--profile', 'mi300a', '--sizes', '64K', '--calls', '100', '--json']),
    ]);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/no GPU with SVM support/);
    expect(apu.code).toBe(0);
    expect((JSON.parse(apu.stdout) as NodeReport).bandwidth).toEqual([]);
  });

  it('--out writes bench-<host>.json that the merger reads', async () => {
    const dir = join(tmp, 'out');
    const r = await runCli(['bench', '--out', dir, '--gpu', '0', '--sizes', '2M', '--repeat', '1', '--calls', '100'], { SLURMD_NODENAME: 'nodeA' });
    expect(r.code).toBe(0);
    const rep = await runCli(['report', dir, '--json']);
    expect(rep.code).toBe(0);
    const s = JSON.parse(rep.stdout) as { nodeRows: { host: string; kind: string; status: string }[] };
    expect(s.nodeRows).toEqual([expect.objectContaining({ host: 'nodeA', kind: 'bench', status: 'pass' })]);
  });
});

describe.concurrent('kfd-svm events', () => {
  it('--json --count: JSON lines of typed migrate events from the demo workload on the sim', async () => {
    const r = await runCli(['events', '--json', '--count', '4', '--gpu', '2', '--kinds', 'migrate-start,migrate-end']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { gpuId: number; kind: string; from: number; to: number; triggerName: string; startPage: string });
    expect(lines).toHaveLength(4);
    expect(lines.map((e) => e.kind)).toEqual(['migrate-start', 'migrate-end', 'migrate-start', 'migrate-end']);
    const gpuId = lines[0]!.gpuId;
    expect(lines.map((e) => [e.from, e.to])).toEqual([
      [0, gpuId],
      [0, gpuId],
      [gpuId, 0],
      [gpuId, 0],
    ]);
    expect(lines.every((e) => e.triggerName === 'prefetch' && /^\d+$/.test(e.startPage))).toBe(true);
  });

  it("--all-processes: the stream still carries this process's own events", async () => {
    const r = await runCli(['events', '--all-processes', '--json', '--count', '2', '--kinds', 'migrate-start']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; pid: number });
    expect(lines.map((e) => e.kind)).toEqual(['migrate-start', 'migrate-start']);
    // Root or not, the kernel delivers the caller's events; --all-processes only adds other processes'.
    if (!hasCapSysAdmin()) expect(r.stderr).toMatch(/--all-processes needs CAP_SYS_ADMIN/);
  });

  it('CAP_SYS_ADMIN is read from the effective capability set (bit 21), not from the user id', () => {
    expect(hasCapSysAdmin(() => 'Name:\tnode\nCapEff:\t000001ffffffffff\n')).toBe(true);
    expect(hasCapSysAdmin(() => 'Name:\tnode\nCapEff:\t0000000000200000\n')).toBe(true);
    expect(hasCapSysAdmin(() => 'Name:\tnode\nCapEff:\t00000000001fffff\n')).toBe(false);
    expect(hasCapSysAdmin(() => 'CapEff:\t0000000000000000\n')).toBe(false);
  });

  it('human lines name the kind, the pages and the direction', async () => {
    const r = await runCli(['events', '--count', '2', '--profile', 'mi210']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} gpu \d+ migrate-start pid \d+ 0x[0-9a-f]+ \+\d+ pages system → gpu \d+ trigger prefetch$/);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('%s: a clean stop, exit 0, no stack trace', async (signal) => {
    const child = startCli(['events']);
    const done = collect(child);
    // Wait until events flow, then interrupt as Ctrl-C (or a scheduler) would.
    await new Promise<void>((resolve) => {
      child.stdout!.once('data', () => resolve());
    });
    child.kill(signal);
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.signal).toBeNull();
    expect(r.stdout.trim().split('\n').length).toBeGreaterThan(0);
    expect(r.stderr).not.toMatch(/Error|\n\s+at /);
  });

  it('a reader that goes away (| head) ends it quietly: no EPIPE stack trace', async () => {
    const child = startCli(['events']);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.stdout!.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(stderr).not.toMatch(/EPIPE|\n\s+at /);
  });

  it('--duration ends a quiet stream (no demo) on time, exit 0', async () => {
    const r = await runCli(['events', '--no-demo', '--duration', '0.3']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });
});
