/**
 * The sim's page-state rules against the kernel's (host side). The guest drove lib/test_hmm.c's
 * dmirror devices through the kernel's real migrate_vma_* paths (hmm-guest.test.ts, recorded in
 * fixtures/hmm-answers.json); here the sim runs the same sequence through the Backend contract on a
 * device-private profile (mi210, PCIe) and a device-coherent one (mi250x, VRAM as Soft Reserved):
 *   migrate to the device, CPU read, migrate again, CPU write, migrate to system memory.
 * Where the data is after each step must match: private pages fault back to system memory on any CPU
 * touch (the kernel's dev_pagemap_ops.migrate_to_ram: dmirror_devmem_fault / svm_migrate_to_ram),
 * coherent pages are accessed in place and stay on the device.
 */
import { describe, expect, it } from 'vitest';
import { hmmAnswers } from './fixtures.js';
import { simTrace } from './sim-trace.js';

describe('page states: test_hmm in the real kernel vs the sim', () => {
  const real = hmmAnswers();

  it('the recording is from the 6.12 test kernel and private and coherent devices behave differently', () => {
    expect(real.kernel).toMatch(/^6\.12\./);
    expect(real.traces.dmirror0).not.toEqual(real.traces.dmirror2);
  });

  it('device-private (dmirror0/1) vs sim mi210: CPU access faults pages back to system memory', async () => {
    const { trace, intact } = await simTrace('mi210');
    expect(trace).toEqual(real.traces.dmirror0);
    expect(trace).toEqual(real.traces.dmirror1);
    expect(trace).toEqual({ afterMigrate: 'device', afterCpuRead: 'system', afterCpuWrite: 'system', afterMigrateToSystem: 'system' });
    expect(intact).toBe(true);
  });

  it('device-coherent (dmirror2/3) vs sim mi250x: CPU access leaves pages on the device', async () => {
    const { trace, intact } = await simTrace('mi250x');
    expect(trace).toEqual(real.traces.dmirror2);
    expect(trace).toEqual(real.traces.dmirror3);
    expect(trace).toEqual({ afterMigrate: 'device', afterCpuRead: 'device', afterCpuWrite: 'device', afterMigrateToSystem: 'system' });
    expect(intact).toBe(true);
  });
});
