import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ensureBuilt, MAIN, runCli } from './run-cli.js';

beforeAll(ensureBuilt);

const COMMANDS = ['info', 'smoke', 'bench', 'events', 'report'];

describe.concurrent('kfd-svm --help and usage errors', () => {
  it('--help lists every command and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(r.stdout).toContain('--backend');
    expect(r.stderr).toBe('');
  });

  it.each(COMMANDS)('%s --help exits 0 with its usage', async (c) => {
    const r = await runCli([c, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: kfd-svm ${c}`, 'm'));
    expect(r.stdout).toContain('--help');
  });

  it('the built entry point keeps its shebang (package.json "bin")', () => {
    expect(readFileSync(MAIN, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  // Representative cases on the built package; test/unit/cli/program.test.ts has the long matrix in-process.
  it.each([
    [[], /Usage: kfd-svm/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['--backend', 'gpu', 'info'], /argument 'gpu' is invalid. Allowed choices are auto, kfd, sim/],
    [['--profile', 'mi999', 'info'], /mi999.*\n?.*mi250x/],
    [['smoke', '--gpu', '99'], /--gpu 99: no such GPU/],
    [['bench', '--sizes', '1000'], /not a multiple of the 4 KiB page/],
    [['report'], /missing required argument 'dir'/],
  ])('%j: a clear message on stderr, exit code 2', async (args, message) => {
    const r = await runCli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace
  });

  it('a bad KFD_SVM_BACKEND in the environment is a usage error too', async () => {
    const r = await runCli(['info'], { KFD_SVM_BACKEND: 'quantum' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/quantum/);
  });
});
