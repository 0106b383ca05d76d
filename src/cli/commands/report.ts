/**
 * `kfd-svm report <dir>`: merges the per-node reports that `srun … kfd-svm smoke --out <dir>` wrote.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { mergeReports, type InputFile } from '../../report/merge.js';
import { DEFAULT_OUTLIER_RULE } from '../../report/stats.js';
import { EXIT_FAIL, EXIT_OK, UsageError } from '../errors.js';
import { line } from '../io.js';
import { parsePositiveInt, parsePositiveNumber } from '../options.js';
import { renderReport } from '../render/report.js';
import type { CommandContext } from './context.js';

/** A node report is a few kilobytes; anything far larger is not one (and is not read into memory). */
const MAX_REPORT_BYTES = 16 * 1024 * 1024;

interface ReportOptions {
  json?: boolean;
  all?: boolean;
  summary?: string;
  expect?: number;
  k: number;
  minRelative: number;
}

export function readReportDir(dir: string): { inputs: InputFile[]; skipped: { file: string; problem: string }[] } {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new UsageError(`report: no such directory: ${dir}`);
  }
  if (!st.isDirectory()) throw new UsageError(`report: not a directory: ${dir}`);
  const inputs: InputFile[] = [];
  const skipped: { file: string; problem: string }[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.toLowerCase().endsWith('.json')) continue;
    const path = join(dir, name);
    try {
      const s = statSync(path);
      if (!s.isFile()) continue;
      if (s.size > MAX_REPORT_BYTES) {
        skipped.push({ file: name, problem: `${s.size} bytes: too large for a node report, not read` });
        continue;
      }
      inputs.push({ file: name, text: readFileSync(path, 'utf8') });
    } catch (e) {
      // A file removed or unreadable between listing and reading: say so, keep going.
      skipped.push({ file: name, problem: `cannot read: ${(e as Error).message}` });
    }
  }
  return { inputs, skipped };
}

export function registerReport(program: Command, ctx: CommandContext): void {
  program
    .command('report')
    .summary('merge the per-node reports of a cluster run into one table')
    .description(
      'Merge the per-node JSON reports in <dir> (as `srun … kfd-svm smoke --out <dir>` writes them) into one\n' +
        'table: failing nodes first, the pass rate of each check, bandwidth outliers per GPU kind\n' +
        '(median ± k·MAD). Broken, unfinished and duplicate reports are reported, not fatal.\n' +
        'Exit code 0 when every node passed, 1 otherwise.',
    )
    .argument('<dir>', 'directory holding smoke-<host>.json / bench-<host>.json files')
    .option('--json', 'print the merged summary as JSON instead of tables')
    .option('--summary <file>', 'also write the JSON summary to <file>')
    .option('--all', 'list every passing node (by default a big cluster shows 32 and counts the rest)')
    .option('--expect <n>', 'number of nodes that should have reported (default: from the Slurm info in the reports)', parsePositiveInt)
    .option('--k <k>', 'outlier threshold in MAD-scaled standard deviations', parsePositiveNumber, DEFAULT_OUTLIER_RULE.k)
    .option(
      '--min-relative <fraction>',
      'smallest deviation from the median that counts as an outlier, as a fraction of it',
      parsePositiveNumber,
      DEFAULT_OUTLIER_RULE.minRelative,
    )
    .action((dir: string, opts: ReportOptions) => {
      const { inputs, skipped } = readReportDir(dir);
      const summary = mergeReports(inputs, {
        rule: { ...DEFAULT_OUTLIER_RULE, k: opts.k, minRelative: opts.minRelative },
        ...(opts.expect !== undefined ? { expect: opts.expect } : {}),
      });
      summary.problems.push(...skipped);
      if (inputs.length === 0) summary.problems.push({ file: dir, problem: 'no .json reports in this directory' });
      const json = `${JSON.stringify(summary, null, 2)}\n`;
      if (opts.summary) writeFileSync(opts.summary, json);
      if (opts.json) ctx.io.stdout.write(json);
      else line(ctx.io.stdout, renderReport(summary, { allNodes: opts.all === true }));
      ctx.setExit(summary.ok ? EXIT_OK : EXIT_FAIL);
    });
}
