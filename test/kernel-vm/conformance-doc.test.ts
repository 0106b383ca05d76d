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
import { hmmAnswers, iomemRecording, kfdAnswers, kfdRaw, topologyRecording } from './fixtures.js';
import { parseIomem } from '../../src/platform/iomem.js';
import { simTrace } from './sim-trace.js';

const DOC = new URL('../../docs/kernel-conformance.md', import.meta.url);

function topoSummary(t: { nodes: { kind: string; cpuCoresCount: number }[]; gpus: unknown[] }): string {
  return `${t.nodes.length} node(s): ${t.nodes.map((n) => `${n.kind} (${n.cpuCoresCount} cores)`).join(', ')}; ${t.gpus.length} GPU(s)`;
}

function iomemRows(): { boot: string; reader: string; found: string }[] {
  const rows: { boot: string; reader: string; found: string }[] = [];
  const hex = (b: bigint | undefined): string => (b === undefined ? 'hidden' : `0x${b.toString(16)}`);
  for (const mode of ['hmm', 'dax'] as const) {
    const rec = iomemRecording(mode);
    const boot = mode === 'hmm' ? 'test_hmm owns the ranges (device_hmem.disable=1)' : 'dax_hmem owns the ranges';
    for (const reader of ['root', 'user'] as const) {
      const r = parseIomem(rec[reader], reader === 'root' ? { daxTargetNodes: rec.daxTargetNodes } : {});
      const spm = r.softReserved
        .map((s) => `Soft Reserved ${s.bounds ? `${hex(s.bounds.start)}-${hex(s.bounds.end)}` : '(addresses hidden)'}${s.daxDevices.length ? ` > ${s.daxDevices.join(',')}` : ''}${s.onlinedAsKmem ? ' > System RAM (kmem)' : ''}${s.numaNode === undefined ? '' : ` (node ${s.numaNode})`}`)
        .join('; ');
      const priv = r.devicePrivate.map((p) => `${p.owner} ${p.bounds ? `${p.bounds.size >> 20n} MiB` : 'hidden'}`).join(', ');
      rows.push({
        boot,
        reader: reader === 'root' ? 'root' : 'uid 65534',
        found: `${r.addressesHidden ? 'addressesHidden; ' : ''}${spm}${priv ? `; device-private: ${priv}` : ''}`,
      });
    }
  }
  return rows;
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
    iomem: iomemRows(),
  });
  if (process.env.KFD_SVM_WRITE_CONFORMANCE_DOC === '1') writeFileSync(DOC, doc);
  expect(existsSync(DOC), 'run with KFD_SVM_WRITE_CONFORMANCE_DOC=1 to write it').toBe(true);
  expect(readFileSync(DOC, 'utf8')).toBe(doc);
});
