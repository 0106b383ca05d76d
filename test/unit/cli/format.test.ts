import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { niceStep, renderBandwidthChart } from '../../../src/chart/svg.js';
import { TapWriter, escapeDescription } from '../../../src/cli/format/tap.js';
import { formatBytes, formatRate } from '../../../src/cli/format/units.js';
import { parseGpuList, parseSizeList, selectGpus } from '../../../src/cli/options.js';

describe('TAP writer', () => {
  it('writes version, points, skips, YAML diagnostics and the plan at the end', () => {
    const lines: string[] = [];
    const tap = new TapWriter((l) => lines.push(l));
    tap.header();
    tap.point({ ok: true, description: 'device opens' });
    tap.point({ ok: false, description: 'prefetch # to GPU', diagnostics: { message: 'byte 4096: "x"', errno: 22, coherent: true } });
    tap.point({ ok: true, description: 'events', skip: 'time budget (1 s) used up' });
    tap.end();
    expect(lines).toEqual([
      'TAP version 14',
      'ok 1 - device opens',
      'not ok 2 - prefetch \\# to GPU',
      '  ---',
      '  message: "byte 4096: \\"x\\""',
      '  errno: 22',
      '  coherent: true',
      '  ...',
      'ok 3 - events # SKIP time budget (1 s) used up',
      '1..3',
      '# pass 1, fail 1, skip 1',
    ]);
    expect(tap.failed).toBe(1);
  });
  it('a description cannot break the line or start a directive', () => {
    expect(escapeDescription('a\nb # SKIP')).toBe('a b \\# SKIP');
  });
});

describe('SVG chart', () => {
  const series = [0, 1].flatMap((gpu) =>
    (['to-gpu', 'to-system'] as const).map((d) => ({
      label: `GPU ${gpu} <gfx90a> & ${d}`,
      group: `gpu${gpu}`,
      dashed: d === 'to-system',
      points: [4096, 65536, 1 << 20, 1 << 24, 1 << 28].map((bytes) => ({ bytes, bytesPerSecond: (36e9 * bytes) / (bytes + 2e6) })),
    })),
  );
  it('is well-formed standalone SVG with one polyline per series and escaped text', () => {
    const svg = renderBandwidthChart(series, { title: 'Migration bandwidth', subtitle: 'sim: mi250x' });
    expect(XMLValidator.validate(svg)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false }).parse(svg) as { svg: Record<string, unknown> };
    expect(doc.svg['@_xmlns']).toBe('http://www.w3.org/2000/svg');
    expect(svg.match(/<polyline /g)).toHaveLength(4);
    expect(svg.match(/stroke-dasharray/g)!.length).toBeGreaterThanOrEqual(2);
    expect(svg).toContain('GPU 0 &lt;gfx90a&gt; &amp; to-gpu');
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });
  it('puts x on a log scale: equal size ratios are equal distances', () => {
    const svg = renderBandwidthChart([{ label: 's', group: 'g', points: [1 << 12, 1 << 16, 1 << 20].map((bytes) => ({ bytes, bytesPerSecond: 1e9 })) }], { title: 't' });
    const pts = /points="([^"]+)"/.exec(svg)![1]!.split(' ').map((p) => Number(p.split(',')[0]));
    expect(pts[1]! - pts[0]!).toBeCloseTo(pts[2]! - pts[1]!, 6);
  });
  it('an empty chart is still valid SVG', () => {
    const svg = renderBandwidthChart([], { title: 'none' });
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toContain('no data');
  });
  it('nice tick steps', () => {
    expect(niceStep(36)).toBe(10);
    expect(niceStep(9)).toBe(2);
    expect(niceStep(0.3)).toBe(0.1);
  });
});

describe('option parsing', () => {
  it('sizes: lists, K/M/G, ranges of powers of two, page multiples only', () => {
    expect(parseSizeList('4K,2M,1G')).toEqual([4096, 2 << 20, 1 << 30]);
    expect(parseSizeList('4K..64K')).toEqual([4096, 8192, 16384, 32768, 65536]);
    expect(() => parseSizeList('1000')).toThrow(/multiple of the 4 KiB page/);
    expect(() => parseSizeList('12Q')).toThrow(/not a size/);
    expect(() => parseSizeList('1M..4K')).toThrow(/smaller size/);
  });
  it('GPU selection by gpu_id or index, unknown named with the valid choices', () => {
    const gpus = [{ gpuId: 0xa1 }, { gpuId: 0xb2 }];
    expect(selectGpus(gpus, parseGpuList('0xb2'))).toEqual([gpus[1]]);
    expect(selectGpus(gpus, parseGpuList('161'))).toEqual([gpus[0]]);
    expect(selectGpus(gpus, parseGpuList('1,0,1'))).toEqual([gpus[1], gpus[0]]);
    expect(selectGpus(gpus, undefined)).toEqual(gpus);
    expect(() => selectGpus(gpus, parseGpuList('7'))).toThrow(/--gpu 7: no such GPU \(index or gpu_id: 0 or 161, 1 or 178\)/);
    expect(() => parseGpuList('x')).toThrow(/GPU ids/);
  });
  it('units', () => {
    expect(formatBytes(64 * 1024 ** 3)).toBe('64 GiB');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatRate(36.4e9)).toBe('36.4 GB/s');
  });
});
