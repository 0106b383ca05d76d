/** Machine discovery from the text surfaces the simulator writes for each profile (the kernel's formats). */
import { describe, expect, it } from 'vitest';
import { createSimBackend } from '../../../src/backend/sim/index.js';
import { KernelError } from '../../../src/backend/errors.js';
import { discoverMachine } from '../../../src/discover.js';
import { getProfile, PROFILE_IDS } from '../../../src/platform/profiles.js';

describe('discoverMachine', () => {
  it.each(PROFILE_IDS)('%s: GPUs typed as the profile describes them', (id) => {
    const p = getProfile(id);
    const m = discoverMachine(createSimBackend({ profile: id }).machine);
    expect(m.gpus.map((g) => g.apu)).toEqual(p.gpus.map((g) => g.memoryKind === 'apu'));
    expect(m.gpus.map((g) => g.coherent)).toEqual(p.gpus.map((g) => g.memoryKind !== 'private'));
    expect(m.gpus.map((g) => g.xnackCapable)).toEqual(p.gpus.map((g) => g.xnackSupported));
    expect(m.gpus.map((g) => g.pciAddress)).toEqual(
      p.gpus.map(
        (g) =>
          `${g.pci.domain.toString(16).padStart(4, '0')}:${g.pci.bus.toString(16).padStart(2, '0')}:` +
          `${g.pci.device.toString(16).padStart(2, '0')}.${g.pci.function}`,
      ),
    );
    expect(m.cpus.map((c) => c.cores)).toEqual(p.cpus.map((c) => c.cores * (c.threadsPerCore ?? 2)));
  });

  it('GPUs a device cgroup denies (EPERM on their topology files) are left out, with a note', () => {
    const { machine } = createSimBackend({ profile: 'mi250x' });
    const tree = machine.topology!;
    const denied = (p: string): boolean => /^nodes\/(3|4)\//.test(p);
    const m = discoverMachine({
      ...machine,
      topology: {
        readFile: (p) => {
          if (denied(p)) throw new KernelError(1, 'read', p);
          return tree.readFile(p);
        },
        listDir: (p) => tree.listDir(p),
      },
    });
    const all = discoverMachine(machine);
    expect(m.gpus).toHaveLength(all.gpus.length - 2);
    expect(m.notes.some((n) => /2 GPU node\(s\) \(sysfs 3, 4\) are hidden .* device cgroup/.test(n))).toBe(true);
  });

  it('ties each Soft Reserved range to its GPU when iomem shows addresses (root)', () => {
    const p = getProfile('mi250x');
    const m = discoverMachine(createSimBackend({ profile: p, root: true }).machine);
    const coherent = p.gpus.filter((g) => g.memoryKind === 'coherent');
    expect(m.spmRanges.length).toBe(coherent.length);
    expect(m.spmRanges.map((r) => r.gpu?.gpuId)).toEqual(coherent.map((g) => g.gpuId));
    for (const r of m.spmRanges) {
      const g = coherent.find((x) => x.gpuId === r.gpu?.gpuId);
      expect(r.start).toBe(g?.spmRange?.start);
      expect(r.size).toBe(g?.spmRange?.size);
    }
    expect(m.notes.some((n) => /CAP_SYS_ADMIN/.test(n))).toBe(false);
  });

  it('without CAP_SYS_ADMIN the ranges are listed without addresses or owner, and a note says why', () => {
    const m = discoverMachine(createSimBackend({ profile: 'mi250x' }).machine);
    expect(m.spmRanges.length).toBeGreaterThan(0);
    for (const r of m.spmRanges) {
      expect(r.start).toBeUndefined();
      expect(r.gpu).toBeUndefined();
    }
    expect(m.notes.some((n) => /CAP_SYS_ADMIN/.test(n))).toBe(true);
  });

  it('no KFD topology: no GPUs or CPUs, and the reason as a note', () => {
    const m = discoverMachine({ topology: undefined, iomem: () => undefined });
    expect(m).toMatchObject({ gpus: [], cpus: [], spmRanges: [] });
    expect(m.notes[0]).toMatch(/no KFD topology/);
  });

  it('a topology that cannot be read is EPARSE', () => {
    const broken = { readFile: (): string => 'garbage', listDir: (): string[] => ['nodes'] };
    let code: string | undefined;
    try {
      discoverMachine({ topology: broken, iomem: () => undefined });
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe('EPARSE');
  });
});
