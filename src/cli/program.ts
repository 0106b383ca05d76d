/**
 * The `kfd-svm` command line: one commander program, run in-process and returning an exit code
 * (0 ok, 1 failure, 2 bad command line) instead of calling process.exit, so tests and main.ts share it.
 */
import { Command, CommanderError, Option } from 'commander';
import { registerReport } from './commands/report.js';
import { registerSmoke } from './commands/smoke.js';
import { registerInfo } from './commands/info.js';
import { registerBench } from './commands/bench.js';
import { registerEvents } from './commands/events.js';
import type { CommandContext } from './commands/context.js';
import { EXIT_FAIL, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js';
import { line, type CliIo } from './io.js';
import { packageVersion } from './version.js';
import { describeError } from './describe-error.js';
import { PROFILE_IDS } from '../platform/profiles.js';

export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('kfd-svm');
  program
    .description(
      'AMD GPU shared virtual memory (SVM) through the Linux amdgpu/KFD driver: inspect the machine, run the\n' +
        'hardware smoke suite, measure migration bandwidth, watch SMI events, merge cluster reports.\n' +
        'Without /dev/kfd every command runs on the simulator (profile mi250x unless --profile says otherwise).',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .addOption(
      new Option('--backend <kind>', 'auto: the kernel when /dev/kfd works, else the simulator')
        .choices(['auto', 'kfd', 'sim'])
        .env('KFD_SVM_BACKEND'),
    )
    .addOption(new Option('--profile <id>', `simulator machine profile (${PROFILE_IDS.join(', ')})`).env('KFD_SVM_PROFILE'))
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
    })
    .showHelpAfterError('(run `kfd-svm --help` for usage)')
    .showSuggestionAfterError(true)
    .exitOverride();
  program.addHelpText(
    'after',
    '\nExamples:\n' +
      '  kfd-svm info                      the machine at a glance\n' +
      '  kfd-svm smoke --json --out DIR    smoke suite, one report per node (for srun)\n' +
      '  kfd-svm report DIR                merge the node reports of a cluster run\n' +
      '  kfd-svm bench --svg bw.svg        bandwidth sweep, chart as SVG\n' +
      '  kfd-svm events --json             SMI events as JSON lines',
  );
  registerInfo(program, ctx);
  registerSmoke(program, ctx);
  registerBench(program, ctx);
  registerEvents(program, ctx);
  registerReport(program, ctx);
  return program;
}

/** Runs the command line and resolves with the exit code. Never throws. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let exit = EXIT_OK;
  const ctx: CommandContext = { io, setExit: (c) => void (exit = Math.max(exit, c)) };
  const program = buildProgram(ctx);
  if (argv.length === 0) {
    // No command: the help, on stderr, as a usage error (a script that forgot the command should notice).
    io.stderr.write(program.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exit;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end with exit code 0; every parse error with 2.
      // `help <command>` ends as 'commander.help' with exit code 0; help shown for an error has 1.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT_OK;
      if (e.code === 'commander.help' && e.exitCode === 0) return EXIT_OK;
      return EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      line(io.stderr, `kfd-svm: error: ${e.message}`);
      return EXIT_USAGE;
    }
    line(io.stderr, describeError(e, io.env.KFD_SVM_DEBUG !== undefined));
    return EXIT_FAIL;
  }
}
