/** parseIomem on the real /proc/iomem listings the QEMU guest recorded (fixtures/iomem-*.json). */
import { describe, expect, it } from 'vitest';
import { iomemRecording } from './fixtures.js';
import { IOMEM_CHECKS } from './iomem-checks.js';

for (const mode of ['hmm', 'dax'] as const) {
  describe(`recorded guest /proc/iomem (${mode} mode)`, () => {
    const rec = iomemRecording(mode);
    it('comes from the 6.12 test kernel booted with the two Soft Reserved ranges', () => {
      expect(rec.kernel).toMatch(/^6\.12\./);
      expect(rec.cmdline).toContain('memmap=256M%0x40000000-1+0xefffffff,256M%0x60000000-1+0xefffffff');
    });
    for (const c of IOMEM_CHECKS.filter((x) => x.modes.includes(mode))) it(c.name, () => c.check(rec));
  });
}
