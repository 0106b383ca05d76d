/**
 * What a command may touch of the outside world, gathered so commands stay testable in-process: the two
 * output streams (and whether each is a terminal), the environment, the host name, and process signals.
 */
import { hostname } from 'node:os';

export interface OutStream {
  write(text: string): unknown;
  /** True when the stream is a terminal (progress bars and colours only then). */
  readonly isTTY?: boolean | undefined;
  /** Terminal width in columns, when a terminal. */
  readonly columns?: number | undefined;
}

export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  env: NodeJS.ProcessEnv;
  /** The node's name as Slurm knows it (SLURMD_NODENAME) or else the host name. */
  hostname(): string;
  /** Subscribes to SIGINT/SIGTERM; returns the unsubscribe function. */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void;
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    hostname: () => process.env.SLURMD_NODENAME || hostname(),
    onSignal(handler) {
      const h = (s: NodeJS.Signals): void => handler(s);
      process.on('SIGINT', h);
      process.on('SIGTERM', h);
      return () => {
        process.off('SIGINT', h);
        process.off('SIGTERM', h);
      };
    },
  };
}

/** Writes one line (adds the newline). */
export function line(stream: OutStream, text = ''): void {
  stream.write(`${text}\n`);
}
