#!/usr/bin/env node
/**
 * The `kfd-svm` executable (package.json "bin"). Sets the exit code and lets Node exit on its own, so
 * piped output is flushed before the process ends.
 */
import { processIo } from './io.js';
import { run } from './program.js';

// `kfd-svm smoke | head`: the reader went away. Stop quietly, as other Unix tools do, not with a stack.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

process.exitCode = await run(process.argv.slice(2), processIo());
