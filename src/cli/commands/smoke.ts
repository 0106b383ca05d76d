/**
 * `kfd-svm smoke`: the hardware smoke suite on this node. TAP on stdout by default (or the JSON report),
 * `--out <dir>` writes `<dir>/smoke-<host>.json` as it goes, exit code 0 when no check failed.
 */
import type { Command } from 'commander';
import { slurmFromEnv, type CheckResult } from '../../report/node-report.js';
import { EXIT_FAIL, EXIT_OK, UsageError } from '../errors.js';
import { TapWriter } from '../format/tap.js';
import { parseGpuList, parseSeconds, parseSize, selectGpus, type GpuSelector } from '../options.js';
import { createProgress } from '../progress.js';
import { packageVersion } from '../version.js';
import { writeNodeReport } from '../write-report.js';
import type { CommandContext } from './context.js';
import { globalOptions, openDevice } from './global.js';

/** The data checks' buffer (the runner's default too). */
const DEFAULT_BUFFER_BYTES = 8 * 1024 * 1024;

interface SmokeCliOptions {
  json?: boolean;
  out?: string;
  gpu?: GpuSelector[];
  budget?: number;
  size: number;
}

export function registerSmoke(program: Command, ctx: CommandContext): void {
  program
    .command('smoke')
    .summary('run the hardware smoke suite (TAP, or JSON for schedulers)')
    .description(
      'Run the smoke suite on this node: the device opens and versions are sane; the topology agrees with ' +
        '/proc/iomem; alloc and free; set/get round-trips every attribute and flag; prefetch to every GPU and ' +
        'back with the data checked byte for byte; in-place CPU access on a coherent link, fault-back over PCIe; ' +
        "an SMI event for each migration; bad ranges refused with the kernel's errno.\n\n" +
        'Output is TAP (version 14) unless --json. Exit code 0 when no check failed, 1 otherwise.',
    )
    .option('--json', 'print the JSON node report instead of TAP')
    .option('--out <dir>', 'also write <dir>/smoke-<host>.json (updated after every check), for `kfd-svm report`')
    .option('--gpu <ids>', 'GPUs to test: gpu_ids or indexes, comma-separated (default: all)', parseGpuList)
    .option('--budget <seconds>', 'time budget: checks that would start after it are skipped (# SKIP)', parseSeconds)
    .option('--size <bytes>', 'buffer size for the data checks (K/M/G suffixes)', parseSize, DEFAULT_BUFFER_BYTES)
    .action(async (opts: SmokeCliOptions, cmd: Command) => {
      const { io } = ctx;
      const host = io.hostname();
      const progress = createProgress(io);
      const tap = new TapWriter((l) => progress.print(l));
      const slurm = slurmFromEnv(io.env);
      const global = globalOptions(cmd);
      let started = false;
      const { runSmoke } = await import('../../smoke/runner.js');
      const report = await runSmoke(
        {
          ...global,
          openDevice: () => openDevice(global),
          rethrow: (e) => e instanceof UsageError,
          ...(opts.gpu ? { selectGpus: (gpus) => selectGpus(gpus, opts.gpu) } : {}),
          ...(opts.budget !== undefined ? { budgetSeconds: opts.budget } : {}),
          bufferBytes: Math.ceil(opts.size / (2 << 20)) * (2 << 20),
          host,
          toolVersion: packageVersion(),
          ...(slurm ? { slurm } : {}),
        },
        {
          onPlan(total) {
            if (!opts.json) {
              tap.header();
              tap.comment(`kfd-svm smoke on ${host}`);
            }
            progress.start(total, 'opening the device');
            started = true;
          },
          onResult(r: CheckResult, partial) {
            progress.tick(r.name);
            if (!opts.json) {
              tap.point({
                ok: r.status !== 'fail',
                description: r.name,
                ...(r.status === 'skip' ? { skip: r.message ?? 'skipped' } : {}),
                ...(r.status === 'fail' ? { diagnostics: { message: r.message ?? 'failed', ...r.diagnostics } } : {}),
              });
            }
            if (opts.out) writeNodeReport(opts.out, 'smoke', host, partial, slurm?.task);
          },
        },
      );
      if (started) progress.stop();
      if (opts.out) {
        const file = writeNodeReport(opts.out, 'smoke', host, report, slurm?.task);
        if (!opts.json) tap.comment(`report written to ${file}`);
      }
      if (opts.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        if (report.fallbackReason) tap.comment(`backend: simulator (${report.fallbackReason})`);
        tap.end();
      }
      ctx.setExit(report.ok ? EXIT_OK : EXIT_FAIL);
    });
}
