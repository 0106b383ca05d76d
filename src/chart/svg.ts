/**
 * Bandwidth versus transfer size as a standalone SVG file (opens in any browser): log₂ x axis (sizes are
 * powers of two), linear y axis from 0, one line per GPU and direction. The same colour is one GPU; a solid
 * line is system→GPU, a dashed line GPU→system. No dependencies: the output is plain SVG 1.1 text.
 */

export interface ChartPoint {
  bytes: number;
  bytesPerSecond: number;
}

export interface ChartSeries {
  /** Legend text, e.g. 'GPU 0 gfx90a system→GPU'. */
  label: string;
  /** Series with the same group share a colour (one GPU). */
  group: string;
  /** Dashed lines for the second direction. */
  dashed?: boolean;
  points: ChartPoint[];
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  width?: number;
  height?: number;
}

// Colour-blind-safe palette (Okabe–Ito), then a few more distinct hues for 8-GPU nodes.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000', '#8C564B', '#7F7F7F'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function sizeLabel(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** A "nice" step for about `count` ticks over [0, max]: 1, 2 or 5 × 10^k. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(2));

export function renderBandwidthChart(series: readonly ChartSeries[], opts: ChartOptions): string {
  const width = opts.width ?? 900;
  const height = opts.height ?? 540;
  const margin = { left: 80, right: 240, top: opts.subtitle ? 64 : 48, bottom: 64 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;

  const points = series.flatMap((s) => s.points.filter((p) => p.bytes > 0 && Number.isFinite(p.bytesPerSecond) && p.bytesPerSecond >= 0));
  const minX = points.length ? Math.min(...points.map((p) => p.bytes)) : 4096;
  const maxX = points.length ? Math.max(...points.map((p) => p.bytes)) : 4096 * 1024;
  // log₂ domain, padded to whole powers of two so ticks land on sizes people recognise.
  const lx0 = Math.floor(Math.log2(minX));
  const lx1 = Math.max(Math.ceil(Math.log2(maxX)), lx0 + 1);
  const maxGBs = points.length ? Math.max(...points.map((p) => p.bytesPerSecond / 1e9)) : 1;
  const yStep = niceStep(maxGBs || 1);
  const yMax = Math.ceil((maxGBs || 1) / yStep) * yStep || yStep;

  const x = (bytes: number): number => margin.left + ((Math.log2(bytes) - lx0) / (lx1 - lx0)) * plotW;
  const y = (gbs: number): number => margin.top + plotH - (gbs / yMax) * plotH;

  const o: string[] = [];
  o.push('<?xml version="1.0" encoding="UTF-8"?>');
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  o.push(`<title>${escapeXml(opts.title)}</title>`);
  o.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  o.push(`<text x="${margin.left}" y="24" font-size="16" font-weight="bold">${escapeXml(opts.title)}</text>`);
  if (opts.subtitle) o.push(`<text x="${margin.left}" y="44" fill="#555555">${escapeXml(opts.subtitle)}</text>`);

  // Grid and axes.
  o.push('<g stroke="#dddddd" stroke-width="1">');
  const xStep = lx1 - lx0 > 12 ? 2 : 1;
  for (let e = lx0; e <= lx1; e += xStep) o.push(`<line x1="${fmt(x(2 ** e))}" y1="${margin.top}" x2="${fmt(x(2 ** e))}" y2="${margin.top + plotH}"/>`);
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) o.push(`<line x1="${margin.left}" y1="${fmt(y(v))}" x2="${margin.left + plotW}" y2="${fmt(y(v))}"/>`);
  o.push('</g>');
  o.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333333"/>`);
  o.push('<g fill="#333333" text-anchor="middle">');
  for (let e = lx0; e <= lx1; e += xStep) o.push(`<text x="${fmt(x(2 ** e))}" y="${margin.top + plotH + 18}">${sizeLabel(2 ** e)}</text>`);
  o.push(`<text x="${margin.left + plotW / 2}" y="${height - 16}">transfer size (log scale)</text>`);
  o.push('</g>');
  o.push('<g fill="#333333" text-anchor="end">');
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) o.push(`<text x="${margin.left - 8}" y="${fmt(y(v) + 4)}">${fmt(Number(v.toPrecision(6)))}</text>`);
  o.push('</g>');
  o.push(
    `<text transform="translate(20 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333333">bandwidth (GB/s)</text>`,
  );

  // Series.
  const groups = [...new Set(series.map((s) => s.group))];
  const colour = (g: string): string => PALETTE[groups.indexOf(g) % PALETTE.length]!;
  series.forEach((s) => {
    const pts = s.points
      .filter((p) => p.bytes > 0 && Number.isFinite(p.bytesPerSecond) && p.bytesPerSecond >= 0)
      .sort((a, b) => a.bytes - b.bytes);
    if (pts.length === 0) return;
    const c = colour(s.group);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    o.push(`<g><title>${escapeXml(s.label)}</title>`);
    o.push(
      `<polyline fill="none" stroke="${c}" stroke-width="2"${dash} points="${pts.map((p) => `${fmt(x(p.bytes))},${fmt(y(p.bytesPerSecond / 1e9))}`).join(' ')}"/>`,
    );
    for (const p of pts) {
      o.push(
        `<circle cx="${fmt(x(p.bytes))}" cy="${fmt(y(p.bytesPerSecond / 1e9))}" r="3" fill="${c}"><title>${escapeXml(
          `${s.label}: ${sizeLabel(p.bytes)} at ${(p.bytesPerSecond / 1e9).toFixed(2)} GB/s`,
        )}</title></circle>`,
      );
    }
    o.push('</g>');
  });

  // Legend.
  const lx = margin.left + plotW + 16;
  o.push('<g>');
  series.forEach((s, i) => {
    const ly = margin.top + 8 + i * 18;
    const c = colour(s.group);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    o.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${c}" stroke-width="2"${dash}/>`);
    o.push(`<text x="${lx + 30}" y="${ly + 4}">${escapeXml(s.label)}</text>`);
  });
  if (series.length === 0) o.push(`<text x="${lx}" y="${margin.top + 12}">no data</text>`);
  o.push('</g>');
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}
