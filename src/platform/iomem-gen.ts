/**
 * Writes the /proc/iomem a MachineProfile's machine would show: an x86-64 server's firmware map (low
 * RAM with the kernel image, ACPI, MMCONFIG, APICs, RAM above 4 GiB per NUMA node), PCI root windows
 * with one bridge and BARs per GPU, the coherent VRAM of xGMI-attached GPUs as `hmem.N` → `Soft Reserved`
 * (→ `daxN.0` → `System RAM (kmem)` when the profile onlines it as a NUMA node), and the device-private
 * ranges amdgpu takes for PCIe GPUs (kgd2kfd_init_zone_device → devm_request_free_mem_region, named by
 * dev_name() = the PCI address, placed top-down from PHYSMEM_END in 128 MiB steps: kernel/resource.c
 * get_free_mem_region with GFR_DESCENDING).
 */
import type { GpuDescription, MachineProfile } from './profile-types.js';
import { formatIomem, type IomemEntry } from './iomem.js';

const GiB = 1n << 30n;
const MiB = 1n << 20n;
/** x86-64 4-level paging: MAX_PHYSMEM_BITS = 46 (PHYSMEM_END when memory KASLR does not shrink it). */
export const PHYSMEM_END = (1n << 46n) - 1n;
/** GFR_DEFAULT_ALIGN = PA_SECTION_SIZE (1 << SECTION_SIZE_BITS = 27) on x86-64. */
const GFR_ALIGN = 128n * MiB;
/** End of RAM below 4 GiB on these boards (the rest of the low 4 GiB is firmware and MMIO). */
const LOW_RAM_END = 0xa8ffffffn;
const HT_HOLE_START = 0xfd00000000n;
const HT_HOLE_END = 0xffffffffffn;

function e(start: bigint, end: bigint, name: string, children: IomemEntry[] = []): IomemEntry {
  return { start, end, name, children };
}

const hex = (v: number, w: number): string => v.toString(16).padStart(w, '0');
export function pciName(g: GpuDescription): string {
  return `${hex(g.pci.domain, 4)}:${hex(g.pci.bus, 2)}:${hex(g.pci.device, 2)}.${g.pci.function}`;
}

function nextPow2(v: bigint): bigint {
  let p = 1n;
  while (p < v) p <<= 1n;
  return p;
}

function alignUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

/** adev->gmc.real_vram_size: a partition node's vramBytes is its share, the device has all of it. */
function deviceVram(g: GpuDescription): bigint {
  return BigInt(g.partition?.deviceVramBytes ?? g.vramBytes);
}

/**
 * One entry per physical device (PCI function): the KFD nodes of a partitioned device share its BARs and
 * its one pgmap (kgd2kfd_init_zone_device runs per adev), so /proc/iomem does not change with partitioning.
 */
export function physicalGpus(profile: MachineProfile): GpuDescription[] {
  return profile.gpus.filter((g) => g.partition === undefined || g.partition.xcpId === 0);
}

/** BAR0 (the VRAM aperture): a resizable BAR covering VRAM for PCIe parts, 512 MiB otherwise. */
function bar0Size(g: GpuDescription): bigint {
  return g.memoryKind === 'private' ? nextPow2(deviceVram(g)) : 512n * MiB;
}

/** Where each GPU's device-private range lands: top-down from PHYSMEM_END, first GPU highest. */
export function devicePrivatePlacement(profile: MachineProfile): Map<GpuDescription, { start: bigint; end: bigint }> {
  const out = new Map<GpuDescription, { start: bigint; end: bigint }>();
  let top = PHYSMEM_END + 1n;
  for (const g of physicalGpus(profile)) {
    if (g.memoryKind !== 'private') continue;
    // kgd2kfd_init_zone_device: ALIGN(real_vram_size, 2 MiB); get_free_mem_region: ALIGN(size, 128 MiB).
    const size = alignUp(alignUp(deviceVram(g), 2n * MiB), GFR_ALIGN);
    const start = ((top - size) / GFR_ALIGN) * GFR_ALIGN;
    out.set(g, { start, end: start + size - 1n });
    top = start;
  }
  return out;
}

/** The coherent VRAM ranges (spmRange) of a profile's GPUs, in GPU order. */
export function coherentRanges(profile: MachineProfile): { gpu: GpuDescription; start: bigint; end: bigint }[] {
  return physicalGpus(profile)
    .filter((g) => g.memoryKind === 'coherent' && g.spmRange)
    .map((g) => ({ gpu: g, start: g.spmRange!.start, end: g.spmRange!.start + g.spmRange!.size - 1n }));
}

/** The iomem tree of a profile, as entries (sorted as the kernel keeps them). */
export function iomemEntries(profile: MachineProfile): IomemEntry[] {
  if (profile.firmware === 'qemu-q35') return qemuEntries(profile);
  const top: IomemEntry[] = [];
  const totalRam = profile.cpus.reduce((s, c) => s + BigInt(c.memoryBytes), 0n);
  // Installed RAM = the 636 KiB below 640 KiB + low RAM from 1 MiB + RAM above 4 GiB.
  const BASE_RAM = 0xa0000n - 0x1000n;
  const lowEnd = totalRam < LOW_RAM_END + 1n - 0x100000n + BASE_RAM ? 0x100000n + totalRam - BASE_RAM - 1n : LOW_RAM_END;
  const lowRam = lowEnd + 1n - 0x100000n + BASE_RAM;

  top.push(e(0x0n, 0xfffn, 'Reserved'));
  top.push(e(0x1000n, 0x9ffffn, 'System RAM'));
  top.push(e(0xa0000n, 0xfffffn, 'Reserved', [
    e(0xa0000n, 0xbffffn, 'PCI Bus 0000:00'),
    e(0xf0000n, 0xfffffn, 'System ROM'),
  ]));
  // The kernel image sits in low RAM (its place moves with KASLR; these are typical 6.12 sizes).
  top.push(e(0x100000n, lowEnd, 'System RAM', [
    e(0x5e000000n, 0x5f201ea7n, 'Kernel code'),
    e(0x5f400000n, 0x5fd7cfffn, 'Kernel rodata'),
    e(0x5fe00000n, 0x601d3cffn, 'Kernel data'),
    e(0x6076e000n, 0x60bfffffn, 'Kernel bss'),
  ]));
  top.push(e(0xa9000000n, 0xaeffffffn, 'Reserved'));
  top.push(e(0xaf000000n, 0xaf7fffffn, 'ACPI Non-volatile Storage'));
  top.push(e(0xaf800000n, 0xafffffffn, 'ACPI Tables'));
  top.push(e(0xb0000000n, 0xbfffffffn, 'PCI MMCONFIG 0000 [bus 00-ff]', [
    e(0xb0000000n, 0xbfffffffn, 'Reserved', [e(0xb0000000n, 0xbfffffffn, 'pnp 00:01')]),
  ]));

  // PCI root buses: the chipset's 0000:00 (with the BMC's VGA) plus one per group of GPU buses.
  const roots = new Map<string, GpuDescription[]>();
  roots.set('0000:00', []);
  for (const g of physicalGpus(profile)) {
    const key = `${hex(g.pci.domain, 4)}:${hex(g.pci.bus & 0xe0, 2)}`;
    const list = roots.get(key) ?? [];
    list.push(g);
    roots.set(key, list);
  }
  const rootKeys = [...roots.keys()];
  const win32Size = 0x4000000n; // 64 MiB of 32-bit MMIO per root
  rootKeys.forEach((key, ri) => {
    const base = 0xc0000000n + BigInt(ri) * win32Size;
    const gpus = roots.get(key)!;
    const children: IomemEntry[] = [];
    if (ri === 0) {
      // The BMC's VGA (ASPEED) behind a bridge, as on most servers.
      children.push(e(base, base + 0x1ffffffn, 'PCI Bus 0000:02', [
        e(base, base + 0xffffffn, '0000:02:00.0', [e(base, base + 0x2fffffn, 'efifb')]),
        e(base + 0x1000000n, base + 0x103ffffn, '0000:02:00.0'),
      ]));
    }
    gpus.forEach((g, gi) => {
      const b = base + 0x2000000n + BigInt(gi) * 0x100000n;
      const pci = pciName(g);
      children.push(e(b, b + 0xfffffn, `PCI Bus ${hex(g.pci.domain, 4)}:${hex(g.pci.bus, 2)}`, [
        e(b, b + 0x7ffffn, pci), // BAR5: MMIO registers, 512 KiB
        e(b + 0x80000n, b + 0x9ffffn, pci), // expansion ROM, 128 KiB
      ]));
    });
    if (base + win32Size - 1n <= 0xfbffffffn) top.push(e(base, base + win32Size - 1n, `PCI Bus ${key}`, children));
  });
  top.push(e(0xfec00000n, 0xfec003ffn, 'IOAPIC 0'));
  top.push(e(0xfec01000n, 0xfec013ffn, 'IOAPIC 1'));
  top.push(e(0xfed00000n, 0xfed003ffn, 'HPET 0', [e(0xfed00000n, 0xfed003ffn, 'PNP0103:00')]));
  top.push(e(0xfee00000n, 0xfee00fffn, 'Local APIC', [e(0xfee00000n, 0xfee00fffn, 'Reserved')]));
  top.push(e(0xff000000n, 0xffffffffn, 'Reserved', [e(0xff000000n, 0xffffffffn, 'pnp 00:04')]));

  // RAM above 4 GiB, one range per NUMA node (the firmware map is contiguous per socket).
  let ramCursor = 0x100000000n;
  let remainingLow = lowRam;
  for (const cpu of profile.cpus) {
    let bytes = BigInt(cpu.memoryBytes);
    const fromLow = bytes < remainingLow ? bytes : remainingLow;
    bytes -= fromLow;
    remainingLow -= fromLow;
    if (bytes <= 0n) continue;
    // AMD reserves 0xfd00000000-0xffffffffff (HyperTransport); firmware moves the RAM there above 1 TiB.
    if (ramCursor < HT_HOLE_START && ramCursor + bytes > HT_HOLE_START) {
      const below = HT_HOLE_START - ramCursor;
      top.push(e(ramCursor, HT_HOLE_START - 1n, 'System RAM'));
      bytes -= below;
      ramCursor = HT_HOLE_END + 1n;
    }
    top.push(e(ramCursor, ramCursor + bytes - 1n, 'System RAM'));
    ramCursor += bytes;
  }
  if (ramCursor > HT_HOLE_START) top.push(e(HT_HOLE_START, HT_HOLE_END, 'Reserved'));

  // Coherent VRAM: the firmware's EFI_MEMORY_SP ranges, claimed by hmem platform devices.
  coherentRanges(profile).forEach(({ gpu, start, end }, i) => {
    const soft: IomemEntry[] = [];
    if (gpu.numaNode !== undefined) {
      soft.push(e(start, end, `dax${i}.0`, [e(start, end, 'System RAM (kmem)')]));
    }
    top.push(e(start, end, `hmem.${i}`, [e(start, end, 'Soft Reserved', soft)]));
  });

  // 64-bit prefetchable windows: one per GPU root, a bridge per GPU holding BAR0 (VRAM) and BAR2 (doorbells).
  let maxEnd = ramCursor;
  for (const c of coherentRanges(profile)) if (c.end + 1n > maxEnd) maxEnd = c.end + 1n;
  let win64 = alignUp(maxEnd, 1n << 40n);
  for (const key of rootKeys) {
    const gpus = roots.get(key)!;
    if (gpus.length === 0) continue;
    const slot = 2n * gpus.reduce((m, g) => (bar0Size(g) > m ? bar0Size(g) : m), 0n);
    const winStart = win64;
    const bridges: IomemEntry[] = gpus.map((g, gi) => {
      const s = winStart + BigInt(gi) * slot;
      const bar0 = bar0Size(g);
      const pci = pciName(g);
      return e(s, s + bar0 + 2n * MiB - 1n, `PCI Bus ${hex(g.pci.domain, 4)}:${hex(g.pci.bus, 2)}`, [
        e(s, s + bar0 - 1n, pci),
        e(s + bar0, s + bar0 + 2n * MiB - 1n, pci),
      ]);
    });
    const winEnd = winStart + BigInt(gpus.length) * slot - 1n;
    top.push(e(winStart, winEnd, `PCI Bus ${key}`, bridges));
    win64 = alignUp(winEnd + 1n, 1n << 40n);
  }

  // Device-private VRAM of PCIe GPUs.
  for (const [g, r] of devicePrivatePlacement(profile)) top.push(e(r.start, r.end, pciName(g)));

  top.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return top;
}

/**
 * QEMU q35 with SeaBIOS, as the reference guest showed it (kfd-in-qemu.md §5a, 5b): RAM below 2 GiB,
 * the MMCONFIG window, the 64-bit PCI hole, and `memmap=…%…-1+0xefffffff` Soft Reserved ranges for
 * coherent GPUs (which QEMU has none of; a profile may still describe them).
 */
function qemuEntries(profile: MachineProfile): IomemEntry[] {
  const total = profile.cpus.reduce((s, c) => s + BigInt(c.memoryBytes), 0n);
  const lowTop = total >= 0x80000000n ? 0x7ffdefffn : 0x100000n + total - 0x21000n - 1n;
  const top: IomemEntry[] = [
    e(0x0n, 0xfffn, 'Reserved'),
    e(0x1000n, 0x9fbffn, 'System RAM'),
    e(0x9fc00n, 0x9ffffn, 'Reserved'),
    e(0xa0000n, 0xbffffn, 'PCI Bus 0000:00'),
    e(0xc0000n, 0xc9bffn, 'Video ROM'),
    e(0xca000n, 0xca5ffn, 'Adapter ROM'),
    e(0xf0000n, 0xfffffn, 'Reserved', [e(0xf0000n, 0xfffffn, 'System ROM')]),
    e(0x100000n, lowTop, 'System RAM', [
      e(0x15000000n, 0x15e01d31n, 'Kernel code'),
      e(0x16000000n, 0x168eafffn, 'Kernel rodata'),
      e(0x16a00000n, 0x16c4897fn, 'Kernel data'),
      e(0x17310000n, 0x183fffffn, 'Kernel bss'),
    ]),
    e(lowTop + 1n, 0x7fffffffn, 'Reserved'),
    e(0x80000000n, 0xafffffffn, 'PCI Bus 0000:00'),
    e(0xb0000000n, 0xbfffffffn, 'PCI MMCONFIG 0000 [bus 00-ff]', [
      e(0xb0000000n, 0xbfffffffn, 'Reserved', [e(0xb0000000n, 0xbfffffffn, 'pnp 00:05')]),
    ]),
    e(0xc0000000n, 0xfebfffffn, 'PCI Bus 0000:00', [
      e(0xfd000000n, 0xfdffffffn, '0000:00:01.0'),
      e(0xfebf0000n, 0xfebf0fffn, '0000:00:01.0'),
      e(0xfebf1000n, 0xfebf1fffn, '0000:00:1f.2'),
    ]),
    e(0xfec00000n, 0xfec003ffn, 'IOAPIC 0'),
    e(0xfed00000n, 0xfed003ffn, 'HPET 0', [e(0xfed00000n, 0xfed003ffn, 'PNP0103:00')]),
    e(0xfed1c000n, 0xfed1ffffn, 'Reserved'),
    e(0xfee00000n, 0xfee00fffn, 'Local APIC'),
    e(0xfffc0000n, 0xffffffffn, 'Reserved'),
  ];
  // q35 keeps at most 2 GiB below 4 GiB; the rest goes above, and the 64-bit PCI hole follows it.
  let holeStart = 0x100000000n;
  if (total > 0x80000000n) {
    const highEnd = 0x100000000n + total - 0x80000000n;
    top.push(e(0x100000000n, highEnd - 1n, 'System RAM'));
    holeStart = alignUp(highEnd, GiB);
  }
  top.push(e(holeStart, holeStart + 0x800000000n - 1n, 'PCI Bus 0000:00'));
  top.push(e(0xfd00000000n, 0xffffffffffn, 'Reserved'));
  coherentRanges(profile).forEach(({ start, end }, i) => {
    top.push(e(start, end, `hmem.${i}`, [e(start, end, 'Soft Reserved')]));
  });
  top.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return top;
}

/** The profile's /proc/iomem text; hideAddresses gives what a reader without CAP_SYS_ADMIN sees. */
export function iomemText(profile: MachineProfile, opts: { hideAddresses?: boolean } = {}): string {
  return formatIomem(iomemEntries(profile), opts);
}

export { GiB };
