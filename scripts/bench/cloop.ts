/**
 * The C floor: compiles scripts/bench/ioctl-loop.c with `cc -O2` into bench/out/ (gitignored), keyed by a
 * hash of the source so an edit recompiles, and runs it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './modules.js';

export interface CLoopSample {
  nsPerCall: number;
  ret: number;
  errno: number;
}

export function cLoopBinary(outDir: string = join(repoRoot, 'bench', 'out')): string {
  const src = join(repoRoot, 'scripts', 'bench', 'ioctl-loop.c');
  const hash = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 12);
  const bin = join(outDir, `ioctl-loop-${hash}`);
  if (!existsSync(bin)) {
    mkdirSync(outDir, { recursive: true });
    const cc = process.env['CC'] ?? 'cc';
    try {
      execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-o', bin, src], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`bench: compiling ${src} with ${cc} failed: ${err.stderr?.toString().trim() || err.message}`);
    }
  }
  return bin;
}

/** Runs `iterations` calls `reps` times in one process; one sample per repetition. */
export function runCLoop(bin: string, device: string, request: number, iterations: number, reps: number): CLoopSample[] {
  const out = execFileSync(bin, [device, request.toString(16), String(iterations), String(reps)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const [ns, ret, errno] = line.trim().split(/\s+/).map(Number);
      if (ns === undefined || ret === undefined || errno === undefined || !Number.isFinite(ns)) {
        throw new Error(`bench: unexpected output from ${bin}: ${JSON.stringify(line)}`);
      }
      return { nsPerCall: ns, ret, errno };
    });
}
