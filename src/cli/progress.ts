/**
 * A progress bar on stderr, only when stderr is a terminal (never in a Slurm log or a pipe). Output lines
 * that go to the same terminal are printed above the bar (cli-progress MultiBar.log) so the two don't
 * tear each other; when stdout is redirected they go straight to it.
 */
import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';
import type { CliIo } from './io.js';

export interface Progress {
  start(total: number, label: string): void;
  /** Advances by one and shows what is running now. */
  tick(label: string): void;
  setTotal(total: number): void;
  /** A line of the command's output (stdout). */
  print(line: string): void;
  stop(): void;
}

export function createProgress(io: CliIo, enabled = io.stderr.isTTY === true): Progress {
  const printPlain = (l: string): void => void io.stdout.write(`${l}\n`);
  if (!enabled) {
    return { start() {}, tick() {}, setTotal() {}, print: printPlain, stop() {} };
  }
  // Loaded only when a bar is shown (a CommonJS module).
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
  const multi = new cliProgress.MultiBar(
    {
      stream: io.stderr as NodeJS.WritableStream,
      format: ' {bar} {value}/{total} {label}',
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      barsize: 24,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: CliProgress.SingleBar | undefined;
  const sameTerminal = io.stdout.isTTY === true;
  return {
    start(total, label) {
      bar = multi.create(total, 0, { label });
    },
    tick(label) {
      bar?.increment(1, { label });
      // Redraw now: the simulator's work runs in microtasks and starves the bar's own redraw timer.
      if (bar) multi.update();
    },
    setTotal(total) {
      bar?.setTotal(total);
    },
    print(l) {
      if (sameTerminal && bar) {
        multi.log(`${l}\n`);
        multi.update();
      } else printPlain(l);
    },
    stop() {
      if (!bar) return;
      multi.update(); // flush lines still buffered above the bar
      multi.stop();
      bar = undefined;
    },
  };
}
