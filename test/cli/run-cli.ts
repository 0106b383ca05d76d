/**
 * Runs the BUILT command (`node dist/cli/main.js …`) as a new user would, in a subprocess. `npm test`'s
 * pretest builds dist/; when the tests run on their own and dist/ is missing, it is built once here.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export function ensureBuilt(): void {
  if (existsSync(MAIN)) return;
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (!existsSync(MAIN)) throw new Error(`building dist/ failed (tsc exit ${r.status})`);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Where /dev/kfd exists (an MI node) `auto` would pick the kernel; the tests assert the simulator's
 * machines, so they ask for it there. Here (no /dev/kfd) they run with no flags at all, as a new user would.
 */
export const HAS_KFD = existsSync('/dev/kfd');

/** A clean environment: no backend/profile steering from the developer's shell, no Slurm. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('KFD_SVM_') || k.startsWith('SLURM')) continue;
    env[k] = v;
  }
  return { ...env, ...(HAS_KFD ? { KFD_SVM_BACKEND: 'sim' } : {}), ...extra };
}

export function startCli(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kfd-svm timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function runCli(args: readonly string[], env: Record<string, string> = {}, timeoutMs?: number): Promise<CliResult> {
  return collect(startCli(args, env), timeoutMs);
}
