/**
 * What parseIomem must make of the guest's real /proc/iomem: two 256 MiB Soft Reserved ranges made by
 * memmap=256M%0x40000000-1+0xefffffff,256M%0x60000000-1+0xefffffff (e820 parse_memmap_one), read as root
 * and as an unprivileged user. kernel/resource.c r_show() prints 0 for start and end unless the opener has
 * CAP_SYS_ADMIN (file_ns_capable), so the user's listing has every address zero.
 * Run in the guest on the live text (iomem-guest.test.ts) and on the host on the recorded text
 * (iomem-fixtures.test.ts).
 */
import { expect } from 'vitest';
import { parseIomem } from '../../src/platform/iomem.js';

export interface IomemListing {
  root: string;
  user: string;
  daxTargetNodes: Record<string, number>;
}

const SPM = [
  { start: 0x40000000n, end: 0x4fffffffn },
  { start: 0x60000000n, end: 0x6fffffffn },
];
const CHUNK = 256n << 20n;

export interface IomemCheck {
  name: string;
  modes: ReadonlyArray<'hmm' | 'dax'>;
  check(l: IomemListing): void;
}

export const IOMEM_CHECKS: readonly IomemCheck[] = [
  {
    name: 'as root: both Soft Reserved ranges with their real bounds',
    modes: ['hmm', 'dax'],
    check: (l) => {
      const r = parseIomem(l.root, { daxTargetNodes: l.daxTargetNodes });
      expect(r.addressesHidden).toBe(false);
      expect(r.softReserved.map((s) => ({ start: s.bounds?.start, end: s.bounds?.end }))).toEqual(SPM);
      // -m 3G minus the two ranges and firmware holes.
      expect(r.systemRamBytes).toBeGreaterThan(2n << 30n);
      expect(r.systemRamBytes).toBeLessThan(3n << 30n);
    },
  },
  {
    name: 'as an unprivileged user: addresses hidden and said so, never reported as zero ranges',
    modes: ['hmm', 'dax'],
    check: (l) => {
      expect(l.user).toMatch(/^00000000-00000000 : Soft Reserved$/m);
      const r = parseIomem(l.user);
      expect(r.addressesHidden).toBe(true);
      expect(r.hint).toMatch(/CAP_SYS_ADMIN/);
      expect(r.softReserved).toHaveLength(2);
      expect(r.softReserved.every((s) => s.bounds === undefined)).toBe(true);
      expect(r.systemRamBytes).toBeUndefined();
    },
  },
  {
    name: 'test_hmm: Soft Reserved stays bare, its device-private chunks show as hmm_dmirror',
    modes: ['hmm'],
    check: (l) => {
      const r = parseIomem(l.root);
      // device_hmem.disable=1: no hmem.N platform device, so nothing above or below Soft Reserved.
      expect(r.softReserved.map((s) => [s.hmemDevice, s.daxDevices])).toEqual([
        [undefined, []],
        [undefined, []],
      ]);
      // dmirror_allocate_chunk: request_free_mem_region(&iomem_resource, DEVMEM_CHUNK_SIZE, "hmm_dmirror")
      // once for each device-private device (dmirror0 and 1) at module init.
      expect(r.devicePrivate.map((d) => [d.owner, d.bounds?.size])).toEqual([
        ['hmm_dmirror', CHUNK],
        ['hmm_dmirror', CHUNK],
      ]);
      const u = parseIomem(l.user);
      expect(u.devicePrivate.map((d) => [d.owner, d.bounds])).toEqual([
        ['hmm_dmirror', undefined],
        ['hmm_dmirror', undefined],
      ]);
    },
  },
  {
    name: 'dax_hmem + kmem: daxN.0 under each range, onlined as System RAM (kmem), tied to NUMA node 0',
    modes: ['dax'],
    check: (l) => {
      // 6.12, unlike the 6.1 listing in the reference: no `hmem.N` resource above Soft Reserved (the hmem
      // platform devices no longer insert one), and dax_hmem_probe (drivers/dax/hmem/hmem.c) creates the
      // region with IORESOURCE_DAX_KMEM, so dax_match_type hands daxN.0 to the built-in kmem driver, which
      // onlines it: `System RAM (kmem)` under `daxN.0`.
      const r = parseIomem(l.root, { daxTargetNodes: l.daxTargetNodes });
      expect(r.softReserved.map((s) => [s.hmemDevice, s.daxDevices, s.onlinedAsKmem, s.numaNode])).toEqual([
        [undefined, ['dax0.0'], true, 0],
        [undefined, ['dax1.0'], true, 0],
      ]);
      // kmem RAM is not counted as top-level System RAM.
      expect(r.systemRamBytes).toBeLessThan((3n << 30n) - 2n * CHUNK);
      const u = parseIomem(l.user);
      expect(u.softReserved.map((s) => [s.daxDevices, s.onlinedAsKmem])).toEqual([
        [['dax0.0'], true],
        [['dax1.0'], true],
      ]);
    },
  },
];
