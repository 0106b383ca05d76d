/**
 * The command line in-process (the same `run()` main.ts calls), for the long matrix of bad arguments;
 * test/cli runs the built package as a subprocess for the representative cases.
 */
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../../src/cli/io.js';
import { run } from '../../../src/cli/program.js';
import { EVENT_KINDS } from '../../../src/index.js';

function captureIo(env: NodeJS.ProcessEnv = {}): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (out += s), isTTY: false },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    env,
    hostname: () => 'testhost',
    onSignal: () => () => undefined,
  };
  return { io, out: () => out, err: () => err };
}

describe('usage errors exit 2 with a clear message', () => {
  it.each([
    [['info', '--frob'], /unknown option '--frob'/],
    [['--profile', 'mi999', 'info'], /mi999/],
    [['smoke', '--budget', '-1'], /--budget <seconds>.*'-1' is invalid/],
    [['smoke', '--size', '12Q'], /not a size/],
    [['smoke', '--gpu', '99'], /--gpu 99: no such GPU \(index or gpu_id: 0 or \d+/],
    [['bench', '--sizes', '1M..4K'], /smaller size to the larger/],
    [['bench', '--gpu', '0xdead'], /--gpu 0xdead: no such GPU/],
    [['events', '--count', '1.5'], /Expected a whole number/],
    [['events', '--duration', 'x'], /Expected a number of seconds/],
    [['events', '--kinds', 'migrate-start,nope'], /Unknown event kind "nope"/],
    [['report', '.', '--k', '0'], /Expected a number above 0/],
    [['report', '/definitely/not/here'], /no such directory/],
    [['report', 'package.json'], /not a directory/],
    [['smoke', 'extra'], /too many arguments/],
  ])('%j', async (args, message) => {
    const c = captureIo();
    expect(await run(args as string[], c.io)).toBe(2);
    expect(c.err()).toMatch(message);
  });

  it('an unknown command suggests the near one', async () => {
    const c = captureIo();
    expect(await run(['smok'], c.io)).toBe(2);
    expect(c.err()).toMatch(/unknown command 'smok'[\s\S]*Did you mean smoke\?/);
  });

  it('events --help lists exactly the API\'s event kinds (the list is written out to keep --help fast)', async () => {
    const c = captureIo();
    expect(await run(['events', '--help'], c.io)).toBe(0);
    const listed = /default: all\):\s*([\s\S]*?)\n\s+--count/.exec(c.out())![1]!.replace(/\s+/g, ' ').split(', ').map((s) => s.trim());
    expect(listed).toEqual([...EVENT_KINDS]);
  });

  it('help for a subcommand through `help <command>` exits 0', async () => {
    const c = captureIo();
    expect(await run(['help', 'report'], c.io)).toBe(0);
    expect(c.out()).toMatch(/Usage: kfd-svm report/);
  });
});
