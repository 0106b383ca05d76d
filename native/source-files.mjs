// The files whose content defines the native addon, and their hash. Shared by the build (through
// source-hash.mjs) and the tests, so both always hash the same list the same way.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Paths relative to the package root, sorted. */
export function nativeSourceFiles(root = packageRoot) {
  const native = readdirSync(join(root, 'native'))
    .filter((f) => /\.(cc|h)$/.test(f) || f === 'sources.json')
    .map((f) => `native/${f}`);
  return [...native, 'binding.gyp'].sort();
}

export function sourceHash(root = packageRoot) {
  const h = createHash('sha256');
  for (const rel of nativeSourceFiles(root)) {
    const body = readFileSync(join(root, rel));
    h.update(`${rel}\n${body.length}\n`);
    h.update(body);
  }
  return h.digest('hex');
}
