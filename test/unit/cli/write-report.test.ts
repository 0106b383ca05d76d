import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeNodeReport } from '../../../src/cli/write-report.js';

describe('writeNodeReport', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'kfd-svm-write-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('writes <kind>-<host>.json with a file-safe host name and leaves nothing else', () => {
    const dir = tempDir();
    const file = writeNodeReport(dir, 'smoke', 'node 1/a', { ok: true });
    expect(file).toBe(join(dir, 'smoke-node_1_a.json'));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ ok: true });
    expect(readdirSync(dir)).toEqual(['smoke-node_1_a.json']);
  });

  it('a failed write throws and leaves no temporary file behind', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'bench-n1.json')); // rename(2) onto a directory: EISDIR
    expect(() => writeNodeReport(dir, 'bench', 'n1', { ok: true })).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect(readdirSync(dir)).toEqual(['bench-n1.json']);
  });
});
