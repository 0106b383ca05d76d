/**
 * The C side of the bridge benchmark: compiles scripts/bench/ioctl-loop.c (the floor) and answer-shim.c
 * (the LD_PRELOAD shim) with `cc -O2` into bench/out/ (gitignored), keyed by a hash of the source so an
 * edit recompiles, and runs the loop.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './modules.js';

export interface CLoopSample {
  nsPerCall: number;
  ret: number;
  errno: number;
}

/**
 * Compiles scripts/bench/<source> once per content. `shared` builds a shared object (for LD_PRELOAD, or with
 * `ext: '.node'` a Node addon); `includes` are extra -I directories.
 */
export function compileC(
  source: string,
  shared = false,
  opts: { ext?: string; includes?: readonly string[]; outDir?: string } = {},
): string {
  const outDir = opts.outDir ?? join(repoRoot, 'bench', 'out');
  const src = join(repoRoot, 'scripts', 'bench', source);
  const hash = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 12);
  const ext = opts.ext ?? (shared ? '.so' : '');
  const out = join(outDir, `${source.replace(/\.c$/, '')}-${hash}${ext}`);
  if (existsSync(out)) return out;
  mkdirSync(outDir, { recursive: true });
  const cc = process.env['CC'] ?? 'cc';
  const tmp = `${out}.${process.pid}.tmp`;
  const includes = (opts.includes ?? []).map((d) => `-I${d}`);
  const args = ['-O2', '-Wall', '-Wextra', ...(shared ? ['-shared', '-fPIC'] : []), ...includes, '-o', tmp, src];
  try {
    execFileSync(cc, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`bench: compiling ${src} with ${cc} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
  // Rename into place so a concurrent run never executes a half-written file.
  renameSync(tmp, out);
  return out;
}

/** Runs `iterations` calls `reps` times in one process; one sample per repetition. */
export function runCLoop(
  bin: string,
  device: string,
  request: number,
  iterations: number,
  reps: number,
  env: NodeJS.ProcessEnv = process.env,
): CLoopSample[] {
  const out = execFileSync(bin, [device, request.toString(16), String(iterations), String(reps)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
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

/** Where the Node-API headers are: beside the node binary, or the node-api-headers package. */
export function nodeApiIncludeDir(): string | undefined {
  const candidates = [
    join(dirname(dirname(process.execPath)), 'include', 'node'),
    join(repoRoot, 'node_modules', 'node-api-headers', 'include'),
  ];
  return candidates.find((d) => existsSync(join(d, 'node_api.h')));
}
