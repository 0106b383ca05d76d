/**
 * 4. Parsers: a 10,000-line /proc/iomem and a 64-node KFD topology, each against a tenth of its size
 * (per-line and per-node cost should not grow with size), and iomem against a floor that only splits the text
 * into lines and finds each name.
 */
import { generateIomemText, generateTopologyTree } from './generators.js';
import { importDist } from './modules.js';
import type { Figure, SectionResult, Target } from './report-types.js';
import { num } from './report.js';
import { pairedRatio, summarize, timePerOp } from './stats.js';

type IomemModule = typeof import('../../src/platform/iomem.js');
type TopologyModule = typeof import('../../src/platform/topology.js');

export interface ParserOptions {
  quick: boolean;
}

/** The least any line parser does: split into lines and find the ' : ' that separates range and name. */
function splitFloor(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) n += line.indexOf(' : ');
  return n;
}

/** Keeps results alive so V8 cannot drop a parse whose result is unused. */
let sink: unknown;

function repeat(reps: number, fn: () => unknown): () => void {
  return () => {
    for (let i = 0; i < reps; i++) sink = fn();
  };
}

export async function benchParsers(opts: ParserOptions): Promise<SectionResult> {
  const { parseIomem } = await importDist<IomemModule>('platform/iomem.js');
  const { parseTopology } = await importDist<TopologyModule>('platform/topology.js');
  const q = opts.quick;
  const rounds = q ? 3 : 11;
  const bigLines = q ? 1000 : 10_000;
  const smallLines = bigLines / 10;
  // 8 nodes (one CPU, seven GPUs) has the same mix of CPU and GPU nodes as 64.
  const bigNodes = q ? 16 : 64;
  const smallNodes = 8;
  const nodeFactor = bigNodes / smallNodes;
  const bigText = generateIomemText(bigLines);
  const smallText = generateIomemText(smallLines);
  const bigTree = generateTopologyTree(bigNodes);
  const smallTree = generateTopologyTree(smallNodes);
  const notes = [
    `iomem: generated listings of ${num(bigLines)} and ${num(smallLines)} lines (System RAM, reserved holes, PCI` +
      ` bridges with nested BARs, hmem / Soft Reserved / dax triples), ${num(bigText.length)} bytes for the large one.`,
    `topology: generated MI250X-class trees of ${bigNodes} and ${smallNodes} nodes (one CPU per 8 GPUs, hives of 8,` +
      ' mem bank, io_links to the CPU and every hive peer, 16 caches per GPU), read through an in-memory TreeReader.',
    `${rounds} samples each, cases interleaved in each round.`,
  ];
  // Sanity: both parsers read the generated input whole before anything is timed.
  const io = parseIomem(bigText);
  if (io.lineCount !== bigLines || io.softReserved.length === 0) {
    throw new Error(`bench: parseIomem read ${io.lineCount} lines and ${io.softReserved.length} Soft Reserved ranges`);
  }
  const topo = parseTopology(bigTree);
  if (!topo.present || topo.nodes.length !== bigNodes) {
    throw new Error(`bench: parseTopology found ${topo.nodes.length} of ${bigNodes} nodes`);
  }
  if (topo.warnings.length > 0) notes.push(`topology parser warnings on the generated tree: ${topo.warnings.join('; ')}`);
  notes.push(
    `parsed: ${io.ranges.length} top-level iomem ranges, ${io.softReserved.length} Soft Reserved;` +
      ` ${topo.gpus.length} GPU nodes, ${topo.nodes.reduce((n, x) => n + x.caches.length + x.ioLinks.length, 0)} caches and io_links.`,
  );

  const iomemReps = q ? 5 : 20;
  const topoReps = q ? 5 : 20;
  const bigI: number[] = [];
  const smallI: number[] = [];
  const floorI: number[] = [];
  const bigT: number[] = [];
  const smallT: number[] = [];
  // Warm-up.
  repeat(iomemReps, () => parseIomem(bigText))();
  repeat(iomemReps, () => splitFloor(bigText))();
  repeat(topoReps, () => parseTopology(bigTree))();
  repeat(topoReps, () => parseTopology(smallTree))();
  for (let r = 0; r < rounds; r++) {
    // ns per line / per node
    bigI.push(timePerOp(iomemReps * bigLines, repeat(iomemReps, () => parseIomem(bigText))));
    smallI.push(timePerOp(iomemReps * 10 * smallLines, repeat(iomemReps * 10, () => parseIomem(smallText))));
    floorI.push(timePerOp(iomemReps * bigLines, repeat(iomemReps, () => splitFloor(bigText))));
    bigT.push(timePerOp(topoReps * bigNodes, repeat(topoReps, () => parseTopology(bigTree))));
    smallT.push(timePerOp(topoReps * bigNodes, repeat(topoReps * nodeFactor, () => parseTopology(smallTree))));
  }
  void sink;
  const perParse = (nsPerUnit: number[], units: number): number[] => nsPerUnit.map((x) => (x * units) / 1e6);
  const figures: Figure[] = [
    { label: `iomem ${num(bigLines)} lines: one parse`, unit: 'ms', value: summarize(perParse(bigI, bigLines)) },
    { label: 'iomem: per line', unit: 'ns', value: summarize(bigI) },
    { label: `topology ${bigNodes} nodes: one parse`, unit: 'ms', value: summarize(perParse(bigT, bigNodes)) },
    { label: 'topology: per node', unit: 'µs', value: summarize(bigT.map((x) => x / 1000)) },
  ];
  const lineScaling = pairedRatio(bigI, smallI);
  const nodeScaling = pairedRatio(bigT, smallT);
  const ratios: Figure[] = [
    { label: `iomem per line: ${num(bigLines)} / ${num(smallLines)} lines`, unit: '×', value: lineScaling },
    { label: 'iomem parse / split-lines floor', unit: '×', value: pairedRatio(bigI, floorI) },
    { label: `topology per node: ${bigNodes} / ${smallNodes} nodes`, unit: '×', value: nodeScaling },
  ];
  const targets: Target[] = [
    {
      label: 'iomem cost linear in lines',
      goal: '≤ 1.5× per line at 10× the lines',
      measured: `${num(lineScaling.median)}×`,
      met: lineScaling.median <= 1.5,
    },
    {
      label: 'topology cost linear in nodes',
      goal: `≤ 1.5× per node at ${nodeFactor}× the nodes`,
      measured: `${num(nodeScaling.median)}×`,
      met: nodeScaling.median <= 1.5,
    },
  ];
  return { id: 'parsers', title: '4. Parsers', figures, ratios, targets, notes };
}
