/**
 * Where the bench finds the package. The bench measures the built package (dist/, what users run), so it
 * loads the modules under test with dynamic imports of dist/ paths; the types come from the matching src/
 * files through type-only imports, so the bench typechecks against the sources even before a build.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { NativeAddon } from '../../src/backend/kfd/index.js';

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

type KfdModule = typeof import('../../src/backend/kfd/index.js');

/** The addon through `loadAddon()` of the built kfd backend, or the reason it cannot load. */
export async function loadBenchAddon(): Promise<NativeAddon | string> {
  try {
    const kfd = await importDist<KfdModule>('backend/kfd/index.js');
    return kfd.loadAddon();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
