/**
 * Where the bench finds the package. The bench measures the built package (dist/, what users run), so it
 * loads the modules under test with dynamic imports of dist/ paths; the types come from the matching src/
 * files through type-only imports, so the bench typechecks against the sources even before a build.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root: the nearest ancestor with the kfd-svm package.json (works from src or compiled). */
export function findRepoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const parsed = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown };
      if (parsed.name === 'kfd-svm') return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`bench: no kfd-svm package.json above ${from}`);
    dir = up;
  }
}

export const repoRoot = findRepoRoot();

/**
 * Imports dist/<rel> (a .js path under dist/). Throws a clear error when the package is not built.
 * The caller states the module's type with `typeof import('../../src/...')`.
 */
export async function importDist<T>(rel: string): Promise<T> {
  const file = join(repoRoot, 'dist', rel);
  if (!existsSync(file)) throw new Error(`bench: ${file} is missing; run \`npm run build\` first`);
  return (await import(pathToFileURL(file).href)) as T;
}

/** The addon functions the bench calls (native/device.cc, native/memory.cc). */
export interface BenchAddon {
  kfdOpen(path: string): unknown;
  kfdClose(handle: unknown): void;
  kfdGetVersion(handle: unknown): { major: number; minor: number };
  memAlloc(size: number, align2M?: boolean): { handle: unknown; buffer: ArrayBuffer; address: bigint; size: number };
  memFree(handle: unknown): void;
}

interface KfdBackendModule {
  loadAddon(): unknown;
}

/** The addon through `loadAddon()` of the built kfd backend, or the reason it cannot load. */
export async function loadBenchAddon(): Promise<BenchAddon | string> {
  try {
    const kfd = await importDist<KfdBackendModule>('backend/kfd/index.js');
    const addon = kfd.loadAddon() as Partial<BenchAddon>;
    for (const fn of ['kfdOpen', 'kfdClose', 'kfdGetVersion', 'memAlloc', 'memFree'] as const) {
      if (typeof addon[fn] !== 'function') return `the addon has no ${fn}()`;
    }
    return addon as BenchAddon;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
