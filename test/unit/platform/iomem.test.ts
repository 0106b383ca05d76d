import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../src/platform/errors.js';
import {
  formatIomem,
  matchCoherentVram,
  parseIomem,
  rangesToEntries,
  walkIomem,
} from '../../../src/platform/iomem.js';
import { IOMEM_FIXTURES, iomemFixture } from './fixtures.js';

describe('parseIomem: the real QEMU listings of the reference', () => {
  it.each(IOMEM_FIXTURES)('%s parses, and formats back to the same text', (name) => {
    const text = iomemFixture(name);
    const io = parseIomem(text);
    expect(io.lineCount).toBe(text.split('\n').length - 1);
    expect(io.addressesHidden).toBe(false);
    expect(formatIomem(rangesToEntries(io.ranges))).toBe(text);
  });

  it('reads the nesting: Kernel code under System RAM, pnp 00:05 three levels down', () => {
    const io = parseIomem(iomemFixture('qemu-6.1-seabios.txt'));
    const ram = io.ranges.find((r) => r.name === 'System RAM' && r.children.length > 0)!;
    expect(ram.bounds).toEqual({ start: 0x100000n, end: 0x7ffdefffn, size: 0x7fedf000n });
    expect(ram.children.map((c) => [c.name, c.kind])).toEqual([
      ['Kernel code', 'kernel'], ['Kernel rodata', 'kernel'], ['Kernel data', 'kernel'], ['Kernel bss', 'kernel']]);
    const pnp = [...walkIomem(io.ranges)].find((r) => r.name === 'pnp 00:05')!;
    expect(pnp.depth).toBe(2);
    // names with spaces, colons and brackets are kept whole
    expect(io.ranges.map((r) => r.name)).toContain('PCI MMCONFIG 0000 [bus 00-ff]');
    // 64-bit bounds beyond 32 bits
    expect(io.ranges.at(-1)!.bounds).toEqual({ start: 0xfd00000000n, end: 0xffffffffffn, size: 0x300000000n });
    expect(io.softReserved).toEqual([]);
    expect(io.devicePrivate).toEqual([]);
  });

  it('memmap=…%…-1+0xefffffff with dax_hmem: hmem.0 → Soft Reserved → dax0.0, NUMA node from target_node', () => {
    const io = parseIomem(iomemFixture('qemu-6.1-seabios-memmap-sp-dax.txt'), { daxTargetNodes: { 'dax0.0': 0 } });
    expect(io.softReserved).toHaveLength(1);
    const s = io.softReserved[0]!;
    expect(s.bounds).toEqual({ start: 0x40000000n, end: 0x4fffffffn, size: 256n << 20n });
    expect(s.hmemDevice).toBe('hmem.0');
    expect(s.daxDevices).toEqual(['dax0.0']);
    expect(s.onlinedAsKmem).toBe(false);
    expect(s.numaNode).toBe(0);
  });

  it('without the dax modules: the same range, no dax device, NUMA node unknown', () => {
    const io = parseIomem(iomemFixture('qemu-6.1-seabios-memmap-sp-nodax.txt'));
    expect(io.softReserved).toEqual([expect.objectContaining({ hmemDevice: 'hmem.0', daxDevices: [], numaNode: undefined })]);
  });

  it('efi_fake_mem ignored by the stock kernel: no Soft Reserved range; efifb under the VGA BAR owned by 0000:00:01.0', () => {
    const io = parseIomem(iomemFixture('qemu-6.1-ovmf-efi-fake-mem-ignored.txt'));
    expect(io.softReserved).toEqual([]);
    const efifb = [...walkIomem(io.ranges)].find((r) => r.name === 'efifb')!;
    expect(efifb.owner.pciAddress).toBe('0000:00:01.0');
    const ahci = parseIomem(iomemFixture('qemu-6.1-custom-ovmf-efi-fake-mem.txt'));
    expect([...walkIomem(ahci.ranges)].find((r) => r.name === 'ahci')!.owner.pciAddress).toBe('0000:00:1f.2');
  });

  it('serializes to JSON (bigints as decimal strings)', () => {
    const io = parseIomem(iomemFixture('qemu-6.1-seabios-memmap-sp-dax.txt'));
    const json = JSON.parse(JSON.stringify(io)) as { softReserved: { bounds: { start: string } }[] };
    expect(json.softReserved[0]!.bounds.start).toBe(String(0x40000000));
  });

  it('test_hmm: top-level Soft Reserved ranges and hmm_dmirror device-private ranges', () => {
    const io = parseIomem(iomemFixture('qemu-6.12-test-hmm-excerpt.txt'));
    expect(io.softReserved.map((s) => [s.bounds?.start, s.hmemDevice])).toEqual([[0x40000000n, undefined], [0x60000000n, undefined]]);
    expect(io.devicePrivate.map((d) => [d.owner, d.pciAddress, d.bounds?.start, d.bounds?.size])).toEqual([
      ['hmm_dmirror', undefined, 0xfce0000000n, 256n << 20n],
      ['hmm_dmirror', undefined, 0xfcf0000000n, 256n << 20n],
    ]);
  });
});

describe('parseIomem: kmem, device-private and PCI ownership', () => {
  const text = [
    '00000000-00000fff : Reserved',
    '100000000-107fffffff : System RAM',
    '1080000000-187fffffff : hmem.1',
    '  1080000000-187fffffff : Soft Reserved',
    '    1080000000-187fffffff : dax1.0',
    '      1080000000-187fffffff : System RAM (kmem)',
    '20000000000-201ffffffff : PCI Bus 0000:c0',
    '  20000000000-200201fffff : PCI Bus 0000:c1',
    '    20000000000-2001fffffff : 0000:c1:00.0',
    '      20000000000-2000fffffff : amdgpu',
    '3ff000000000-3fffffffffff : 0000:c1:00.0',
    '',
  ].join('\n');

  it('ties dax and kmem to the NUMA node, the BAR and its driver child to the PCI address', () => {
    const io = parseIomem(text, { daxTargetNodes: { 'dax1.0': 2 } });
    const s = io.softReserved[0]!;
    expect(s).toMatchObject({ hmemDevice: 'hmem.1', daxDevices: ['dax1.0'], onlinedAsKmem: true, numaNode: 2 });
    const kmem = [...walkIomem(io.ranges)].find((r) => r.kind === 'kmem')!;
    expect(kmem.owner).toMatchObject({ numaNode: 2, daxDevice: 'dax1.0', hmemDevice: 'hmem.1' });
    const amdgpu = [...walkIomem(io.ranges)].find((r) => r.name === 'amdgpu')!;
    expect(amdgpu.owner.pciAddress).toBe('0000:c1:00.0');
    expect(amdgpu.kind).toBe('other');
    const bus = io.ranges.find((r) => r.name === 'PCI Bus 0000:c0')!;
    expect(bus.owner.pciBus).toBe('0000:c0');
    // the window holds one device's BARs only, so it is that device's
    expect(bus.owner.pciAddress).toBe('0000:c1:00.0');
    expect(bus.children[0]!.owner).toMatchObject({ pciBus: '0000:c1', pciAddress: '0000:c1:00.0' });
    // a window with two devices under it belongs to neither
    const shared = parseIomem(iomemFixture('qemu-6.1-seabios.txt')).ranges.find((r) => r.name === 'PCI Bus 0000:00' && r.children.length > 0)!;
    expect(shared.owner.pciAddress).toBeUndefined();
    // the same name at the top level is not a BAR: request_free_mem_region put it there
    expect(io.devicePrivate).toEqual([expect.objectContaining({ owner: '0000:c1:00.0', pciAddress: '0000:c1:00.0' })]);
    expect(io.devicePrivate[0]!.bounds!.size).toBe(64n << 30n);
    expect(io.systemRamBytes).toBe(0xf80000000n);
  });

  it('matchCoherentVram pairs by size and address order, and refuses when addresses are hidden', () => {
    const io = parseIomem(text);
    expect(matchCoherentVram(io, [{ gpuId: 7, vramBytes: 32n << 30n }])).toEqual([
      expect.objectContaining({ gpuId: 7, basis: 'size-and-order' })]);
    expect(matchCoherentVram(io, [{ gpuId: 7, vramBytes: 64n << 30n }])).toEqual([]);
    const hidden = parseIomem(formatIomem(rangesToEntries(io.ranges), { hideAddresses: true }));
    expect(matchCoherentVram(hidden, [{ gpuId: 7, vramBytes: 32n << 30n }])).toEqual([]);
  });
});

describe('parseIomem: hidden addresses (no CAP_SYS_ADMIN)', () => {
  it('all zeros → addressesHidden, a hint, no bounds anywhere', () => {
    const hidden = iomemFixture('qemu-6.1-seabios-memmap-sp-dax.txt').replace(/[0-9a-f]+-[0-9a-f]+ :/g, '00000000-00000000 :');
    const io = parseIomem(hidden);
    expect(io.addressesHidden).toBe(true);
    expect(io.hint).toMatch(/root|CAP_SYS_ADMIN/);
    for (const r of walkIomem(io.ranges)) expect(r.bounds).toBeUndefined();
    expect(io.softReserved).toHaveLength(1);
    expect(io.softReserved[0]!.bounds).toBeUndefined();
  });

  it('a real listing whose first range starts at 0 is not mistaken for a hidden one', () => {
    const io = parseIomem('00000000-00000fff : Reserved\n00000000-00000000 : odd\n');
    expect(io.addressesHidden).toBe(false);
    expect(io.hint).toBeUndefined();
  });

  it('an empty listing is empty, not hidden', () => {
    expect(parseIomem('')).toMatchObject({ ranges: [], lineCount: 0, addressesHidden: false });
  });
});

describe('parseIomem: malformed input → ParseError with the line', () => {
  it.each([
    ['no separator', 'abc\n', 1],
    ['odd indentation', '00000000-0000ffff : a\n 00000000-000000ff : b\n', 2],
    ['a jump of two levels', '00000000-0000ffff : a\n    00000000-000000ff : b\n', 2],
    ['start above end', '00001000-00000fff : a\n', 1],
    ['more than 64 bits', '10000000000000000-10000000000000001 : a\n', 1],
    ['a child outside its parent', '00001000-00001fff : a\n  00000000-00000fff : b\n', 2],
    ['upper-case hex (the kernel prints lower case)', '0000000A-0000000F : a\n', 1],
  ])('%s', (_what, text, line) => {
    let caught: unknown;
    try {
      parseIomem(text);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ParseError);
    expect((caught as ParseError).line).toBe(line);
  });
});
