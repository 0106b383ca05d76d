import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A host name safe in a file name (Slurm node names are, but `hostname` may return anything). */
export function fileSafeHost(host: string): string {
  return host.replace(/[^A-Za-z0-9._-]/g, '_') || 'unknown-host';
}

/**
 * Writes `<dir>/<kind>-<host>.json` (`<kind>-<host>.task<N>.json` for task N of several on one node)
 * atomically (a temporary file, then rename), so the merger never reads a half-written report from a node
 * that is still running or was killed mid-write.
 */
export function writeNodeReport(dir: string, kind: 'smoke' | 'bench', host: string, data: unknown, task?: number): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${kind}-${fileSafeHost(host)}${task === undefined ? '' : `.task${task}`}.json`);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true }); // a full disk or a failed rename must not leave the half-written file
    throw e;
  }
  return file;
}
