/**
 * Runs a scenario in a child node process, so that a crash (SIGSEGV, an abort, a sanitizer halting the
 * process) is a failed assertion here rather than the end of the test runner, and so that fd and mapping
 * counts start from a process nobody else has touched.
 *
 * The child loads the same addon binary as this process (KFD_SVM_NATIVE_PATH when set, as under
 * scripts/sanitize/run.sh, else what node-gyp-build resolves) and inherits the environment, so under the
 * sanitizer run it carries LD_PRELOAD=libasan and the sanitizer options too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../src/backend/kfd/index.js';

const require = createRequire(import.meta.url);

/** The addon binary the tests exercise. */
export const addonPath: string = process.env.KFD_SVM_NATIVE_PATH
  ? resolve(process.env.KFD_SVM_NATIVE_PATH)
  : (require('node-gyp-build') as { resolve(dir: string): string }).resolve(packageRoot());

const harnessUrl = pathToFileURL(resolve(packageRoot(), 'test/safety/child/harness.mjs')).href;

export interface ChildRun<T> {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** What the child passed to report(), if it got that far. */
  result: T | undefined;
}

/** Sanitizer and fatal-error banners: any of these in a child's stderr fails the case. */
const CRASH_MARKERS = /AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:|FATAL ERROR|Segmentation fault|Aborted|terminate called/;

/**
 * Runs `body` (an ES module body; `h` is the harness: addon, fds, maps, isMapped, gcUntil, errorOf, report, fifo, mark, unmappedState, untilUnmapped)
 * in a fresh `node --expose-gc`. `preload`: a shared library to LD_PRELOAD as well. `leakCheck: false`: no
 * LeakSanitizer at exit under scripts/sanitize/run.sh, for children that end with calls still pending on
 * purpose (process.exit, worker.terminate): node never settles or frees those promises, nor a terminated
 * worker's heap, and their allocation stacks run through the addon's calls.
 */
export function runChild<T = unknown>(
  body: string,
  timeoutMs = 120_000,
  opts: { preload?: string; leakCheck?: boolean } = {},
): ChildRun<T> {
  const src = `import * as h from ${JSON.stringify(harnessUrl)};\nconst { addon } = h;\n${body}\n`;
  const env: NodeJS.ProcessEnv = { ...process.env, KFD_SVM_NATIVE_PATH: addonPath };
  // Under scripts/sanitize/run.sh: LeakSanitizer checks each child at its exit (vitest's own workers never
  // reach a normal exit, so only these children can be checked). exitcode=0 keeps a leak from failing the
  // child by itself: run.sh reads the reports and fails only on leaks allocated by the addon's code.
  if (process.env.KFD_SVM_LSAN === '1' && env.ASAN_OPTIONS && opts.leakCheck !== false) {
    env.ASAN_OPTIONS += ':detect_leaks=1:exitcode=0';
  }
  // An extra LD_PRELOAD library goes after whatever is preloaded already (libasan must stay first).
  if (opts.preload) env.LD_PRELOAD = env.LD_PRELOAD ? `${env.LD_PRELOAD}:${opts.preload}` : opts.preload;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', src], {
    cwd: packageRoot(), // bare imports (fast-check) resolve from the package's node_modules
    env,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  const stdout = r.stdout ?? '';
  const at = stdout.lastIndexOf('@@RESULT@@');
  const result = at >= 0 ? (JSON.parse(stdout.slice(at + 10).split('\n')[0] ?? 'null') as T) : undefined;
  return { status: r.status, signal: r.signal, stdout, stderr: r.stderr ?? '', result };
}

/** The child's report, after checking it exited 0, on no signal, with no crash or sanitizer banner. */
export function childResult<T>(run: ChildRun<T>): T {
  const why = `child exit ${run.status} signal ${run.signal}\n--- stderr ---\n${run.stderr.slice(-6000)}`;
  if (run.signal !== null || run.status !== 0 || CRASH_MARKERS.test(run.stderr) || run.result === undefined) {
    throw new Error(`the child process failed: ${why}`);
  }
  return run.result;
}

let shimPath: string | undefined;
/**
 * test/safety/fake-kfd-shim.c compiled (once per test process) into a temporary directory: LD_PRELOAD it
 * into a child (runChild's `preload`) and the KFD ioctls on /dev/null answer as a KFD would, so the addon's
 * success paths run too. Needs a C compiler ($CC, else cc), as building the addon does.
 */
export function fakeKfdShim(): string {
  if (shimPath) return shimPath;
  const out = join(mkdtempSync(join(tmpdir(), 'kfd-svm-shim-')), 'fake-kfd.so');
  execFileSync(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-O2', '-o', out, resolve(packageRoot(), 'test/safety/fake-kfd-shim.c')]);
  shimPath = out;
  return out;
}
