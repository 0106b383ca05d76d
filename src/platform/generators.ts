/**
 * Large inputs for the parser benchmark (and stress tests): an iomem listing of a chosen number of lines
 * and a topology of a chosen number of nodes, both written by the same generators as the profiles, so
 * they have the real shape (nesting, Soft Reserved triples, BARs; full node/bank/link/cache files).
 */
import type { TreeReader } from '../backend/contract.js';
import type { MachineProfile } from './profile-types.js';
import { formatIomem, type IomemEntry } from './iomem.js';
import { getProfile } from './profiles.js';
import { topologyFiles } from './topology-gen.js';
import { MapTreeReader } from './tree-reader.js';

const GiB = 1n << 30n;
const MiB = 1n << 20n;

/**
 * An iomem listing of exactly `lines` lines: blocks of System RAM with the kernel image, PCI bus windows
 * with bridges and BARs, `hmem.N` → `Soft Reserved` → `daxN.0` → `System RAM (kmem)` chains and
 * device-private ranges, repeated at rising addresses, then cut to the line count.
 */
export function generateLargeIomem(lines: number): string {
  const entries: IomemEntry[] = [];
  let count = 0;
  let base = 0x100000000n;
  const add = (e: IomemEntry): void => {
    entries.push(e);
  };
  const lineCount = (e: IomemEntry): number => 1 + (e.children ?? []).reduce((s, c) => s + lineCount(c), 0);
  let block = 0;
  while (count < lines) {
    const kind = block % 4;
    let e: IomemEntry;
    if (kind === 0) {
      e = { start: base, end: base + 16n * GiB - 1n, name: 'System RAM', children: [
        { start: base + 0x1000000n, end: base + 0x1ffffffn, name: 'Kernel code' },
        { start: base + 0x2000000n, end: base + 0x2ffffffn, name: 'Kernel data' },
      ] };
      base += 16n * GiB;
    } else if (kind === 1) {
      const bus = (block >> 2) & 0xff;
      const h = bus.toString(16).padStart(2, '0');
      e = { start: base, end: base + 4n * GiB - 1n, name: `PCI Bus 0000:${h}`, children: [
        { start: base, end: base + 2n * GiB + 2n * MiB - 1n, name: `PCI Bus 0000:${h}`, children: [
          { start: base, end: base + 2n * GiB - 1n, name: `0000:${h}:00.0` },
          { start: base + 2n * GiB, end: base + 2n * GiB + 2n * MiB - 1n, name: `0000:${h}:00.0` },
        ] },
      ] };
      base += 4n * GiB;
    } else if (kind === 2) {
      const n = block >> 2;
      e = { start: base, end: base + 8n * GiB - 1n, name: `hmem.${n}`, children: [
        { start: base, end: base + 8n * GiB - 1n, name: 'Soft Reserved', children: [
          { start: base, end: base + 8n * GiB - 1n, name: `dax${n}.0`, children: [
            { start: base, end: base + 8n * GiB - 1n, name: 'System RAM (kmem)' },
          ] },
        ] },
      ] };
      base += 8n * GiB;
    } else {
      e = { start: base, end: base + 0xfffffn, name: 'Reserved' };
      base += GiB;
    }
    add(e);
    count += lineCount(e);
    block++;
  }
  // A device-private range near the top, as amdgpu would take it.
  add({ start: 0x3ff000000000n, end: 0x3fffffffffffn, name: '0000:c1:00.0' });
  const text = formatIomem(entries);
  return text.split('\n').slice(0, lines).join('\n') + '\n';
}

/**
 * A topology of exactly `nodes` nodes: one EPYC CPU node per 8 MI250X GCDs (gfx90a), hives of 8 with
 * every xGMI link, full mem_banks / io_links / caches as the kernel writes them.
 */
export function generateLargeTopology(nodes: number): TreeReader {
  const template = getProfile('mi250x');
  const cpuCount = Math.max(1, Math.ceil(nodes / 9));
  const gpuCount = Math.max(0, nodes - cpuCount);
  const cpu = template.cpus[0]!;
  const gpu0 = template.gpus[0]!;
  const profile: MachineProfile = {
    ...template,
    id: `generated-${nodes}`,
    cpus: Array.from({ length: cpuCount }, () => ({ ...cpu })),
    gpus: Array.from({ length: gpuCount }, (_, i) => ({
      ...gpu0,
      marketingName: `AMD Instinct MI250X (GCD ${i})`,
      gpuId: 1 + i,
      pci: { domain: Math.floor(i / 256), bus: i % 256, device: 0, function: 0 },
      drmRenderMinor: 128 + i,
      hiveId: 0x1000n + BigInt(Math.floor(i / 8)),
      hostNode: Math.floor(i / 8) % cpuCount,
      spmRange: { start: 0x10000000000n + BigInt(i) * 0x1000000000n, size: 0x1000000000n },
    })),
  };
  return new MapTreeReader(topologyFiles(profile));
}
