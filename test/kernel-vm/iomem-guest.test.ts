/**
 * parseIomem on the guest's live /proc/iomem (guest only, SVM kernel, hmm and dax modes), read as root
 * and as uid 65534. The listings are recorded for fixtures/ (iomem-fixtures.test.ts parses them on the host).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, it } from 'vitest';
import { IN_VM, VM_KERNEL, VM_MODE, record } from './guest-env.js';
import { IOMEM_CHECKS, type IomemListing } from './iomem-checks.js';

function readAsNobody(path: string): string {
  const r = spawnSync('cat', [path], { uid: 65534, gid: 65534, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cat ${path} as uid 65534 failed: ${r.stderr}`);
  return r.stdout;
}

function daxTargetNodes(): Record<string, number> {
  const dir = '/sys/bus/dax/devices';
  const out: Record<string, number> = {};
  if (!existsSync(dir)) return out;
  for (const d of readdirSync(dir)) {
    const f = `${dir}/${d}/target_node`;
    if (existsSync(f)) out[d] = Number(readFileSync(f, 'utf8').trim());
  }
  return out;
}

const mode = VM_MODE === 'dax' ? 'dax' : 'hmm';

describe.runIf(IN_VM && VM_KERNEL === 'svm')(`real /proc/iomem in the guest (${mode} mode)`, () => {
  let listing: IomemListing;
  beforeAll(() => {
    listing = { root: readFileSync('/proc/iomem', 'utf8'), user: readAsNobody('/proc/iomem'), daxTargetNodes: daxTargetNodes() };
    record(`iomem-${mode}.json`, {
      kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
      cmdline: readFileSync('/proc/cmdline', 'utf8').trim(),
      ...listing,
    });
  });
  for (const c of IOMEM_CHECKS.filter((x) => x.modes.includes(mode))) it(c.name, () => c.check(listing));
});
