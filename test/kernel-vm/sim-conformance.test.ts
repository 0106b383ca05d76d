/**
 * Host side of the real-kernel conformance: the same case table (cases.ts) on the simulator's 'cpu-only'
 * profile must give, case for case, the answers the real amdgpu KFD driver gave in the QEMU guest
 * (fixtures/kfd-answers-svm.json and -nosvm.json, recorded by kfd-guest.test.ts through
 * scripts/kernel-vm/ci.sh).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createSimBackend } from '../../src/backend/sim/index.js';
import { type Answer, CASES, expectedWithoutSvm, runAll } from './cases.js';
import { kfdAnswers } from './fixtures.js';


describe('the sim (cpu-only profile) answers like the real KFD driver', () => {
  const real = kfdAnswers('svm');
  const realNoSvm = kfdAnswers('nosvm');
  let sim: Record<string, Answer>;

  beforeAll(async () => {
    const backend = createSimBackend({ profile: 'cpu-only' });
    try {
      sim = await runAll(backend);
    } finally {
      backend.close();
    }
  });

  it('the recordings cover exactly the cases of the table', () => {
    expect(Object.keys(real.answers).sort()).toEqual(CASES.map((c) => c.id).sort());
    expect(Object.keys(realNoSvm.answers).sort()).toEqual(CASES.map((c) => c.id).sort());
    expect(real.kernel).toMatch(/^6\.12\./);
  });

  for (const c of CASES) {
    it(`${c.id}: ${c.what}`, () => {
      expect(sim[c.id], 'sim vs real kernel').toEqual(real.answers[c.id]);
      expect(real.answers[c.id], 'real kernel vs the table').toEqual(c.expected);
      expect(realNoSvm.answers[c.id], 'kernel without SVM').toEqual(expectedWithoutSvm(c));
    });
  }
});
