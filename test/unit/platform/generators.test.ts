import { describe, expect, it } from 'vitest';
import { generateLargeIomem, generateLargeTopology } from '../../../src/platform/generators.js';
import { parseIomem } from '../../../src/platform/iomem.js';
import { parseTopology } from '../../../src/platform/topology.js';

describe('benchmark inputs', () => {
  it('generateLargeIomem gives exactly the lines asked for, a valid listing with every range kind', () => {
    for (const n of [1, 37, 1000]) {
      const text = generateLargeIomem(n);
      expect(text.split('\n').length - 1).toBe(n);
      expect(parseIomem(text).lineCount).toBe(n);
    }
    const io = parseIomem(generateLargeIomem(1000));
    expect(io.softReserved.length).toBeGreaterThan(10);
    expect(io.softReserved.every((s) => s.onlinedAsKmem && s.daxDevices.length === 1)).toBe(true);
  });

  it('generateLargeTopology gives exactly the nodes asked for, one CPU per 8 GPUs, all parseable', () => {
    const t = parseTopology(generateLargeTopology(64));
    if (!t.present) throw new Error('absent');
    expect(t.nodes).toHaveLength(64);
    expect(t.gpus).toHaveLength(56);
    expect(new Set(t.gpus.map((g) => g.gpuId)).size).toBe(56);
    expect(t.warnings).toEqual([]);
    expect(parseTopology(generateLargeTopology(1)).nodes).toHaveLength(1);
  });
});
