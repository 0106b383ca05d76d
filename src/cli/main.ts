#!/usr/bin/env node
/**
 * The `kfd-svm` executable (package.json "bin"). Sets the exit code and lets Node exit on its own, so
 * piped output is flushed before the process ends.
 */
import { processIo } from './io.js';
import { run } from './program.js';

process.exitCode = await run(process.argv.slice(2), processIo());
