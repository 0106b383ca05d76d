/**
 * docs/kernel-conformance.md must be what conformance-doc.ts makes of the recorded real answers and a
 * live sim run; KFD_SVM_WRITE_CONFORMANCE_DOC=1 rewrites it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { createSimBackend } from '../../src/backend/sim/index.js';
import { parseTopology } from '../../src/platform/topology.js';
import type { TreeReader } from '../../src/backend/contract.js';
import { CASES, runAll } from './cases.js';
import { conformanceDoc } from './conformance-doc.js';
import { hmmAnswers, kfdAnswers, kfdRaw, topologyRecording } from './fixtures.js';
import { simTrace } from './sim-trace.js';

const DOC = new URL('../../docs/kernel-conformance.md', import.meta.url);

function topoSummary(t: { nodes: { kind: string; cpuCoresCount: number }[]; gpus: unknown[] }): string {
  return `${t.nodes.length} node(s): ${t.nodes.map((n) => `${n.kind} (${n.cpuCoresCount} cores)`).join(', ')}; ${t.gpus.length} GPU(s)`;
}

it('docs/kernel-conformance.md is current', async () => {
  const sim = createSimBackend({ profile: 'cpu-only' });
  let simAnswers;
  let simTopo: string;
  try {
    simAnswers = await runAll(sim);
    simTopo = topoSummary(parseTopology(sim.machine.topology as TreeReader));
  } finally {
    sim.close();
  }
  const doc = conformanceDoc({
    cases: CASES,
    real: kfdAnswers('svm'),
    realNoSvm: kfdAnswers('nosvm'),
    sim: simAnswers,
    rawSvm: kfdRaw('svm'),
    rawNoSvm: kfdRaw('nosvm'),
    hmm: hmmAnswers(),
    simTraces: { private: (await simTrace('mi210')).trace, coherent: (await simTrace('mi250x')).trace },
    topology: { real: topoSummary(topologyRecording()), sim: simTopo },
  });
  if (process.env.KFD_SVM_WRITE_CONFORMANCE_DOC === '1') writeFileSync(DOC, doc);
  expect(existsSync(DOC), 'run with KFD_SVM_WRITE_CONFORMANCE_DOC=1 to write it').toBe(true);
  expect(readFileSync(DOC, 'utf8')).toBe(doc);
});
