import type { CliIo } from '../io.js';

/** What every command gets: the outside world, and a way to set the exit code. */
export interface CommandContext {
  io: CliIo;
  setExit(code: number): void;
}
