/**
 * Test-only builds of the addon from native/sources.json that the build of record cannot make on Node 20:
 *
 * - 'no-external-buffers': every file compiled with NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED, node-addon-api's
 *   define for Electron builds (it removes the external-buffer APIs): memAlloc must give `buffer: null`.
 * - 'refusing-runtime': the normal sources, linked with -Wl,--wrap=napi_create_external_arraybuffer and
 *   test/native/extbuf-shim.c, which answers napi_no_external_buffers_allowed (or another failure) the way
 *   a runtime with V8's memory cage does. Node 20 never refuses, so this is the only way to run that path.
 *
 * Straight g++ (no node-gyp), -O0, into .cache/addon-variants/ (git-ignored) under a name that hashes the
 * sources, the flags and the shim: a warm run reuses the binaries (the test file takes 0.6 s), a cold one
 * compiles 10 files (5-9 s on 2 shared cores). build/Release and prebuilds/ are never touched. The files other than memory.cc are
 * compiled once, with the define, for both variants: they use no external-buffer API (that they compile
 * under the define shows it), so only memory.cc differs between the two.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/backend/kfd/index.js';
import { sourceHash } from '../../native/source-files.mjs';

const run = promisify(execFile);
const root = packageRoot();

export type Variant = 'no-external-buffers' | 'refusing-runtime';

/** Where the Node-API C headers are: beside node (a distribution's /usr/include/node), or node-api-headers. */
function nodeApiInclude(): string | undefined {
  const candidates = [
    join(dirname(dirname(process.execPath)), 'include', 'node'),
    join(root, 'node_modules', 'node-api-headers', 'include'),
  ];
  return candidates.find((d) => existsSync(join(d, 'node_api.h')));
}

/** Whether this machine can make the variants (Linux, g++, the Node-API headers). */
export function canBuildVariants(): boolean {
  if (process.platform !== 'linux' || nodeApiInclude() === undefined) return false;
  try {
    execFileSync('g++', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const NO_EXT = 'NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED';

/** Builds both variants (cached) and returns their paths. */
export async function buildVariants(): Promise<Record<Variant, string>> {
  const include = nodeApiInclude();
  if (!include) throw new Error('no node_api.h beside node or in node_modules/node-api-headers');
  const hash = sourceHash(root);
  const shim = join(root, 'test', 'native', 'extbuf-shim.c');
  const common = [
    '-std=c++17', '-O0', '-fPIC', '-fvisibility=hidden', '-Wall', '-Wextra',
    '-DNAPI_VERSION=8', '-DNODE_ADDON_API_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED',
    '-DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS', '-DKFD_SVM_BUILD_SYSTEM="test-variant"',
    `-DKFD_SVM_SOURCE_HASH="${hash}"`,
    `-I${join(root, 'node_modules', 'node-addon-api')}`, `-I${include}`, `-I${join(root, 'native')}`,
  ];
  const key = createHash('sha256')
    .update(hash)
    .update(common.join(' '))
    .update(readFileSync(shim))
    .update(readFileSync(new URL(import.meta.url)))
    .digest('hex')
    .slice(0, 16);
  const outDir = join(root, '.cache', 'addon-variants');
  const out: Record<Variant, string> = {
    'no-external-buffers': join(outDir, `no-external-buffers-${key}.node`),
    'refusing-runtime': join(outDir, `refusing-runtime-${key}.node`),
  };
  if (existsSync(out['no-external-buffers']) && existsSync(out['refusing-runtime'])) return out;

  mkdirSync(outDir, { recursive: true });
  const tmp = mkdtempSync(join(outDir, 'build-'));
  try {
    const sources = (JSON.parse(readFileSync(join(root, 'native', 'sources.json'), 'utf8')) as string[]).map((f) =>
      join(root, 'native', f),
    );
    const obj = (src: string, tag: string) => join(tmp, `${tag}-${src.split('/').pop()}.o`);
    const jobs: Array<() => Promise<unknown>> = sources.map((src) => () =>
      run('nice', ['g++', ...common, `-D${NO_EXT}`, '-c', src, '-o', obj(src, 'noext')]),
    );
    const memory = sources.find((s) => s.endsWith('/memory.cc')) as string;
    jobs.push(() => run('nice', ['g++', ...common, '-c', memory, '-o', obj(memory, 'plain')]));
    jobs.push(() => run('nice', ['gcc', '-O0', '-fPIC', `-I${include}`, '-c', shim, '-o', join(tmp, 'shim.o')]));
    // Two at a time: the machine has two cores, shared.
    let next = 0;
    await Promise.all([0, 1].map(async () => {
      while (next < jobs.length) await (jobs[next++] as () => Promise<unknown>)();
    }));

    const others = sources.filter((s) => s !== memory).map((s) => obj(s, 'noext'));
    const link = async (name: Variant, objs: string[], extra: string[]) => {
      const tmpOut = join(tmp, `${name}.node`);
      await run('g++', ['-shared', '-o', tmpOut, ...objs, ...extra]);
      renameSync(tmpOut, out[name]); // into place whole: a concurrent run never loads half a file
    };
    await link('no-external-buffers', [...others, obj(memory, 'noext')], []);
    await link('refusing-runtime', [...others, obj(memory, 'plain'), join(tmp, 'shim.o')], [
      '-Wl,--wrap=napi_create_external_arraybuffer',
    ]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}
