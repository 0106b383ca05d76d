/**
 * test_hmm for real (guest only, hmm mode): /dev/hmm_dmirror0/1 are device-private, 2/3 device-coherent on
 * the Soft Reserved ranges at 0x40000000/0x60000000 (test_hmm.spm_addr_dev0/1). The helper migrates an
 * anonymous buffer through the kernel's migrate_vma_* and snapshots the page states around CPU access.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { HMM_HELPER, IN_VM, VM_KERNEL, VM_MODE, record } from './guest-env.js';
import { type HelperRun, traceOf, uniformState } from './hmm-states.js';

const NPAGES = 16;

describe.runIf(IN_VM && VM_KERNEL === 'svm' && VM_MODE === 'hmm')('test_hmm devices in the guest', () => {
  const runs = new Map<number, HelperRun>();

  beforeAll(() => {
    expect(HMM_HELPER, 'KFD_SVM_HMM_HELPER must name the hmm-helper binary').not.toBe('');
    for (const dev of [0, 1, 2, 3]) {
      const out = execFileSync(HMM_HELPER, ['hmm', String(dev), String(NPAGES)], { encoding: 'utf8' });
      runs.set(dev, JSON.parse(out) as HelperRun);
    }
    record('hmm-answers.json', {
      kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
      runs: Object.fromEntries([...runs].map(([d, r]) => [`dmirror${d}`, r])),
      traces: Object.fromEntries([...runs].map(([d, r]) => [`dmirror${d}`, traceOf(r)])),
    });
  });

  const run = (dev: number): HelperRun => {
    const r = runs.get(dev);
    if (!r) throw new Error(`no run for dmirror${dev}`);
    return r;
  };

  for (const dev of [0, 1, 2, 3]) {
    const coherent = dev >= 2;
    const local = coherent ? 'coherent-local' : 'private-local';
    describe(`dmirror${dev} (${coherent ? 'device-coherent' : 'device-private'})`, () => {
      it('starts in system memory and migrates every page to the device', () => {
        const r = run(dev);
        expect(uniformState(r.beforeMigrate)).toBe('system');
        // cpages: the pages the device then read back from its memory (dmirror_do_read after migrating).
        expect(r.migrateToDev).toMatchObject({ ret: 0, errno: 0, cpages: NPAGES });
        expect(uniformState(r.afterMigrate)).toBe(local);
        // The device reads the data back from its own memory (dmirror_do_read): nothing lost in the copy.
        expect(r.deviceCopyMismatches).toBe(0);
      });

      it('the peer device sees the pages as the kernel reports them to another owner', () => {
        const r = run(dev);
        // dmirror_mkentry: a coherent page is an ordinary PTE, so the peer sees it (COHERENT_REMOTE);
        // a private page of another owner is a swap entry that hmm_range_fault does not report without
        // a fault request (hmm_vma_handle_pte), so the peer's snapshot says NONE.
        expect(uniformState(r.peerAfterMigrate ?? [])).toBe(coherent ? 'coherent-remote' : 'none');
      });

      if (coherent) {
        it('a CPU read and a CPU write leave the pages on the device (in place)', () => {
          const r = run(dev);
          expect(r.cpuReadMismatches).toBe(0);
          expect(uniformState(r.afterCpuRead)).toBe(local);
          // A second MIGRATE_TO_DEV has nothing to move: migrate_vma_collect_pmd skips coherent pages
          // unless MIGRATE_VMA_SELECT_DEVICE_COHERENT is asked for, and test_hmm asks for SYSTEM only.
          expect(r.migrateToDevAgain.ret).toBe(0);
          expect(uniformState(r.beforeCpuWrite)).toBe(local);
          expect(uniformState(r.afterCpuWrite)).toBe(local);
        });
      } else {
        it('a CPU read faults the pages back to system memory (dmirror_devmem_fault)', () => {
          const r = run(dev);
          expect(r.cpuReadMismatches).toBe(0);
          expect(uniformState(r.afterCpuRead)).toBe('system');
          expect(r.migrateToDevAgain).toMatchObject({ ret: 0, cpages: NPAGES });
          expect(uniformState(r.beforeCpuWrite)).toBe(local);
          expect(uniformState(r.afterCpuWrite)).toBe('system');
        });
      }

      it('MIGRATE_TO_SYS brings every page back and the data survives every move', () => {
        const r = run(dev);
        expect(r.migrateToSys.ret).toBe(0);
        expect(uniformState(r.afterMigrateToSys)).toBe('system');
        expect(r.finalMismatches).toBe(0);
      });
    });
  }
});
