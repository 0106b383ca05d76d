import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MapTreeReader } from '../../../src/platform/tree-reader.js';

const root = fileURLToPath(new URL('../../fixtures/', import.meta.url));

/** An iomem listing from test/fixtures/iomem (real listings from the QEMU runs of the reference). */
export function iomemFixture(name: string): string {
  return readFileSync(`${root}iomem/${name}`, 'utf8');
}

/** A topology tree from test/fixtures/topology ({ files: { path: content } }). */
export function topologyFixture(name: string): MapTreeReader {
  const json = JSON.parse(readFileSync(`${root}topology/${name}`, 'utf8')) as { files: Record<string, string> };
  return new MapTreeReader(json.files);
}

export const IOMEM_FIXTURES = [
  'qemu-6.1-seabios.txt',
  'qemu-6.1-seabios-memmap-sp-dax.txt',
  'qemu-6.1-seabios-memmap-sp-nodax.txt',
  'qemu-6.1-ovmf-efi-fake-mem-ignored.txt',
  'qemu-6.1-ovmf-memmap-sp.txt',
  'qemu-6.1-custom-ovmf-efi-fake-mem.txt',
  'qemu-6.12-test-hmm-excerpt.txt',
] as const;
