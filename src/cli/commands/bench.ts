/**
 * `kfd-svm bench`: migration bandwidth over a sweep of sizes per GPU and direction, and the per-call
 * overhead; a table (or JSON), a node report for `kfd-svm report` (--out), an SVG chart (--svg).
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { renderBandwidthChart, type ChartSeries } from '../../chart/svg.js';
import type { Gpu } from '../../index.js';
import { NODE_REPORT_FORMAT, NODE_REPORT_VERSION, slurmFromEnv, type NodeReport } from '../../report/node-report.js';
import { benchSteps, runBench } from '../../smoke/bench.js';
import { renderTable } from '../format/table.js';
import { formatBytes, formatDuration, formatRate } from '../format/units.js';
import { line } from '../io.js';
import { parseGpuList, parsePositiveInt, parseSizeList, selectGpus, type GpuSelector } from '../options.js';
import { createProgress } from '../progress.js';
import { packageVersion } from '../version.js';
import { writeNodeReport } from '../write-report.js';
import type { CommandContext } from './context.js';
import { globalOptions, openDevice } from './global.js';

interface BenchCliOptions {
  json?: boolean;
  out?: string;
  svg?: string;
  gpu?: GpuSelector[];
  sizes: number[];
  repeat: number;
  calls: number;
}

const DEFAULT_SIZES = '4K,16K,64K,256K,1M,4M,16M,64M';
const DIRECTION = { 'to-gpu': 'system→GPU', 'to-system': 'GPU→system' } as const;

export function chartSeries(report: NodeReport, gpus: readonly Gpu[]): ChartSeries[] {
  const series: ChartSeries[] = [];
  for (const g of gpus) {
    const index = gpus.indexOf(g);
    for (const direction of ['to-gpu', 'to-system'] as const) {
      const points = report.bandwidth
        .filter((s) => s.gpuId === g.gpuId && s.direction === direction)
        .map((s) => ({ bytes: s.bytes, bytesPerSecond: s.bytesPerSecond }));
      if (points.length === 0) continue;
      series.push({ label: `GPU ${index} (${g.gfxTarget}) ${DIRECTION[direction]}`, group: String(g.gpuId), dashed: direction === 'to-system', points });
    }
  }
  return series;
}

export function registerBench(program: Command, ctx: CommandContext): void {
  program
    .command('bench')
    .summary('measure migration bandwidth per GPU and direction, and the per-call overhead')
    .description(
      'Measure migration bandwidth system→GPU and GPU→system over a sweep of sizes for each GPU (prefetch ' +
        'round trips; the fastest of --repeat counts), and the per-call overhead of a quick call (one GET_ATTR). ' +
        "On the simulator the time is the simulated clock's (what the profile's link predicts); on hardware, wall time.",
    )
    .option('--json', 'print the results as JSON (a node report of kind "bench")')
    .option('--out <dir>', 'also write <dir>/bench-<host>.json, for `kfd-svm report`')
    .option('--svg <file>', 'write a bandwidth-versus-size chart (SVG) to <file>')
    .option('--gpu <ids>', 'GPUs to measure: gpu_ids or indexes, comma-separated (default: all)', parseGpuList)
    .option('--sizes <list>', 'sizes: a list (4K,2M,1G) or a range of powers of two (4K..1G)', parseSizeList, parseSizeList(DEFAULT_SIZES))
    .option('--repeat <n>', 'round trips per size', parsePositiveInt, 3)
    .option('--calls <n>', 'quick calls timed for the overhead', parsePositiveInt, 20000)
    .action(async (opts: BenchCliOptions, cmd: Command) => {
      const { io } = ctx;
      const host = io.hostname();
      const global = globalOptions(cmd);
      const device = await openDevice(global);
      const progress = createProgress(io);
      const startedAt = new Date().toISOString();
      let report: NodeReport;
      let gpus: Gpu[];
      try {
        gpus = selectGpus(device.gpus, opts.gpu);
        progress.start(benchSteps(gpus, opts), 'starting');
        const result = await runBench(device, gpus, {
          sizes: opts.sizes,
          repeat: opts.repeat,
          calls: opts.calls,
          onStep: (label) => progress.tick(label),
        });
        progress.stop();
        const slurm = slurmFromEnv(io.env);
        report = {
          format: NODE_REPORT_FORMAT,
          version: NODE_REPORT_VERSION,
          kind: 'bench',
          host,
          startedAt,
          finishedAt: new Date().toISOString(),
          complete: true,
          tool: { name: 'kfd-svm', version: packageVersion() },
          backend: device.backend,
          ...(device.fallbackReason !== undefined ? { fallbackReason: device.fallbackReason } : {}),
          ...(device.backend === 'sim' && global.profile !== undefined ? { profile: global.profile } : {}),
          kfdVersion: { major: device.version.major, minor: device.version.minor },
          gpus: gpus.map((g) => ({ gpuId: g.gpuId, name: g.name, gfxTarget: g.gfxTarget, coherent: g.coherent })),
          checks: [],
          bandwidth: result.samples,
          ...(Number.isFinite(result.callOverheadNs) ? { callOverheadNs: result.callOverheadNs } : {}),
          ...(slurm ? { slurm } : {}),
          ok: true,
        };
      } finally {
        progress.stop();
        await device.close();
      }

      if (opts.out) writeNodeReport(opts.out, 'bench', host, report, report.slurm?.task);
      if (opts.svg) {
        const subtitle = `${host} · ${report.backend === 'sim' ? `simulator${report.profile ? ` (${report.profile})` : ''}, simulated clock` : 'kfd, wall time'} · fastest of ${opts.repeat}`;
        writeFileSync(opts.svg, renderBandwidthChart(chartSeries(report, gpus), { title: 'kfd-svm: migration bandwidth vs transfer size', subtitle }));
      }
      if (opts.json) {
        io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const out: string[] = [];
      out.push(`Migration bandwidth (${report.backend === 'sim' ? 'simulated clock' : 'wall time'}, fastest of ${opts.repeat})`);
      if (report.bandwidth.length === 0) {
        out.push(
          gpus.some((g) => g.apu)
            ? '  APU: one memory, prefetch migrates nothing, so there is no migration bandwidth to measure'
            : '  no GPU with SVM support: nothing to measure',
        );
      }
      for (const g of gpus) {
        const rows = opts.sizes
          .map((size) => {
            const at = (d: 'to-gpu' | 'to-system'): string => {
              const s = report.bandwidth.find((b) => b.gpuId === g.gpuId && b.bytes === size && b.direction === d);
              return s ? formatRate(s.bytesPerSecond) : '-';
            };
            return [formatBytes(size), at('to-gpu'), at('to-system')];
          })
          .filter((r) => r[1] !== '-' || r[2] !== '-');
        if (rows.length === 0) continue;
        out.push(`GPU ${gpus.indexOf(g)}: ${g.name} (${g.gfxTarget}), gpu_id ${g.gpuId}, ${g.coherent ? 'coherent link' : 'PCIe'}`);
        out.push(renderTable(['size', DIRECTION['to-gpu'], DIRECTION['to-system']], rows));
      }
      out.push(
        report.callOverheadNs !== undefined
          ? `Per-call overhead (buffer.get(): one GET_ATTR, wall time, median): ${formatDuration(report.callOverheadNs)}`
          : 'Per-call overhead: not measured (no GPU VM: the kernel keeps no SVM range)',
      );
      if (opts.svg) out.push(`Chart written to ${opts.svg}`);
      line(io.stdout, out.join('\n'));
    });
}
