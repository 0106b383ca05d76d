/**
 * The sim's text surfaces read back through the same parsers the kfd backend uses: topology, iomem and
 * SMI event lines.
 */
import { describe, expect, it } from 'vitest';
import { SvmAttrType as T } from '../../../src/backend/abi.js';
import { createSimBackend } from '../../../src/backend/sim/index.js';
import { parseIomem } from '../../../src/platform/iomem.js';
import { PROFILE_IDS } from '../../../src/platform/profiles.js';
import { parseSmiEvents } from '../../../src/platform/smi-events.js';
import { parseTopology } from '../../../src/platform/topology.js';
import { ALL_EVENTS, lines, PAGE } from './fixtures.js';

describe.each(PROFILE_IDS)('profile %s', (id) => {
  const b = createSimBackend({ profile: id });

  it('topology: the parser finds the GPUs the model has, with their gpu_id, render node and SVM support', () => {
    const t = parseTopology(b.machine.topology);
    expect(t.present).toBe(true);
    if (!t.present) return;
    expect(t.gpus.map((g) => [g.gpuId, g.drmRenderMinor, g.svmSupported])).toEqual(
      b.profile.gpus.map((g) => [g.gpuId, g.drmRenderMinor, g.svmSupported]),
    );
    expect(b.processApertures().map((a) => a.gpuId)).toEqual(b.profile.gpus.map((g) => g.gpuId));
  });

  it('iomem: zero addresses unless root; as root the coherent VRAM shows as Soft Reserved', () => {
    const user = parseIomem(b.machine.iomem()!);
    expect(user.addressesHidden).toBe(true);
    const root = parseIomem(createSimBackend({ profile: id, root: true }).machine.iomem()!);
    expect(root.addressesHidden).toBe(false);
    const coherent = b.profile.gpus.filter((g) => g.memoryKind === 'coherent').length;
    expect(root.softReserved.length).toBe(coherent);
    // One device-private range per physical device: the nodes of a partitioned one share its pgmap.
    const priv = b.profile.gpus.filter((g) => g.memoryKind === 'private' && (g.partition?.xcpId ?? 0) === 0).length;
    expect(root.devicePrivate.length).toBe(priv);
  });

  it('XNACK starts at the profile default; version is the profile KFD version', () => {
    expect(b.getXnack()).toBe(b.profile.xnackDefault);
    expect(b.version()).toEqual(b.profile.kfdVersion);
  });
});

describe('device-kind rules per profile', () => {
  it.each([
    ['mi250x', 'device-coherent'],
    ['mi210', 'device-private'],
    ['mi300x', 'device-private'],
    ['mi300a', 'system'],
  ] as const)('%s: a prefetch to the first GPU leaves the pages %s', async (id, where) => {
    const b = createSimBackend({ profile: id });
    const g = b.profile.gpus[0]!;
    b.acquireVm(g.gpuId, g.drmRenderMinor);
    const m = b.alloc(1 << 20);
    await b.svmSetAttr(m.address, BigInt(m.size), [{ type: T.PREFETCH_LOC, value: g.gpuId }]);
    expect(b.snapshot(m.address, BigInt(m.size))[0]!.location).toBe(where);
  });

  it('an unknown profile id is an Error naming the valid ones', () => {
    expect(() => createSimBackend({ profile: 'mi999' })).toThrow(/mi250x/);
  });
});

describe('SMI lines parse with the platform parser', () => {
  it('every event the model writes for a prefetch, a GPU fault, a CPU fault and a free is a known record', async () => {
    const b = createSimBackend({ profile: 'mi210', pid: 321 });
    const g = b.profile.gpus[0]!;
    b.acquireVm(g.gpuId, g.drmRenderMinor);
    b.setXnack(true);
    const m = b.alloc(4 * 1024 * 1024, { align2M: true });
    const ev = b.openSmiEvents(g.gpuId, ALL_EVENTS);
    await b.svmSetAttr(m.address, 2n * 1024n * 1024n, [{ type: T.PREFETCH_LOC, value: g.gpuId }]);
    await b.gpuAccess(g.gpuId, m.address + 3n * 1024n * 1024n, PAGE, 'write');
    await b.cpuAccess(m.address, PAGE, 'read');
    m.free();
    const text = (await lines(ev)).join('\n') + '\n';
    const recs = parseSmiEvents(text);
    const kinds = recs.map((r) => r.kind);
    expect(kinds).not.toContain('unknown');
    expect(new Set(kinds)).toEqual(
      new Set(['migrate-start', 'migrate-end', 'page-fault-start', 'page-fault-end', 'unmap-from-gpu']),
    );
    for (const r of recs) if ('pid' in r) expect(r.pid).toBe(321);
    const ms = recs.find((r) => r.kind === 'migrate-start');
    expect(ms).toMatchObject({ startPage: m.address >> 12n, pages: 512n, from: 0, to: g.gpuId, triggerName: 'prefetch' });
  });
});
