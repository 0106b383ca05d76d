/**
 * A TreeReader over real files (the sysfs topology at /sys/class/kfd/kfd/topology). Paths are relative to
 * the root; a path that climbs out of it ('..') reads as absent.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TreeReader } from '../contract.js';
import { KernelError } from '../errors.js';

/** Errors that mean "not there": the node vanished (sysfs removes GPU nodes on unplug) or never was. */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ENODEV']);

export class FsTreeReader implements TreeReader {
  constructor(readonly root: string) {}

  private resolve(path: string): string | undefined {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) return undefined;
    return join(this.root, ...parts);
  }

  readFile(path: string): string | undefined {
    const full = this.resolve(path);
    if (full === undefined) return undefined;
    try {
      return readFileSync(full, 'utf8');
    } catch (e) {
      return absentOrThrow(e, 'read', full);
    }
  }

  listDir(path: string): string[] | undefined {
    const full = this.resolve(path);
    if (full === undefined) return undefined;
    try {
      return readdirSync(full).sort();
    } catch (e) {
      return absentOrThrow(e, 'scandir', full);
    }
  }
}

function absentOrThrow(e: unknown, syscall: string, path: string): undefined {
  const err = e as NodeJS.ErrnoException;
  if (err.code && ABSENT.has(err.code)) return undefined;
  if (typeof err.errno === 'number') throw new KernelError(-err.errno, syscall, path);
  throw e;
}
