/** Synthetic node reports, as `kfd-svm smoke --out` writes them, for the merger's tests. */
import { NODE_REPORT_FORMAT, NODE_REPORT_VERSION, type NodeReport } from '../../../src/report/node-report.js';

export const CHECK_IDS = ['device-open', 'versions', 'topology-iomem', 'alloc-free', 'attributes', 'prefetch-roundtrip', 'cpu-access', 'copy-io', 'events', 'bad-inputs'];

export interface SyntheticOptions {
  gpus?: number;
  /** Check ids that fail (on GPU 0 for per-GPU checks). */
  fail?: string[];
  /** Bandwidth (bytes/s) per GPU index, to-gpu; to-system is 0.9×. */
  bandwidth?: number | ((gpu: number) => number);
  complete?: boolean;
  startedAt?: string;
  numNodes?: number;
  nodeList?: string;
}

export function syntheticReport(host: string, o: SyntheticOptions = {}): NodeReport {
  const gpuCount = o.gpus ?? 8;
  const gpus = Array.from({ length: gpuCount }, (_, i) => ({ gpuId: 0x1000 + i, name: 'AMD Instinct MI250X', gfxTarget: 'gfx90a', coherent: true }));
  const checks: NodeReport['checks'] = [];
  for (const id of CHECK_IDS) {
    const perGpu = ['prefetch-roundtrip', 'cpu-access', 'copy-io', 'events'].includes(id);
    const instances = perGpu ? gpus.map((g) => g.gpuId) : [undefined];
    instances.forEach((gpuId, i) => {
      const fail = (o.fail ?? []).includes(id) && i === 0;
      checks.push({
        id,
        name: gpuId === undefined ? id : `${id} on gpu ${gpuId}`,
        status: fail ? 'fail' : 'pass',
        durationMs: 1,
        ...(gpuId !== undefined ? { gpuId } : {}),
        ...(fail ? { message: 'data mismatch at byte 4096' } : {}),
      });
    });
  }
  const bw = o.bandwidth ?? 36e9;
  const bwOf = typeof bw === 'function' ? bw : () => bw;
  const bandwidth: NodeReport['bandwidth'] = gpus.flatMap((g, i) =>
    (['to-gpu', 'to-system'] as const).map((direction) => {
      const bytesPerSecond = bwOf(i) * (direction === 'to-gpu' ? 1 : 0.9);
      const bytes = 64 * 1024 * 1024;
      return { gpuId: g.gpuId, gpuName: g.name, gfxTarget: g.gfxTarget, direction, bytes, seconds: bytes / bytesPerSecond, bytesPerSecond, clock: 'wall' as const };
    }),
  );
  const complete = o.complete ?? true;
  return {
    format: NODE_REPORT_FORMAT,
    version: NODE_REPORT_VERSION,
    kind: 'smoke',
    host,
    startedAt: o.startedAt ?? '2026-01-01T00:00:00.000Z',
    ...(complete ? { finishedAt: '2026-01-01T00:00:10.000Z' } : {}),
    complete,
    tool: { name: 'kfd-svm', version: '0.1.0' },
    backend: 'kfd',
    kfdVersion: { major: 1, minor: 17 },
    xnack: false,
    gpus,
    checks,
    bandwidth,
    ...(o.numNodes !== undefined || o.nodeList !== undefined
      ? { slurm: { jobId: '1234', ...(o.numNodes !== undefined ? { numNodes: o.numNodes } : {}), ...(o.nodeList !== undefined ? { nodeList: o.nodeList } : {}) } }
      : {}),
    ok: complete && !(o.fail ?? []).length,
  };
}

export function asFile(r: NodeReport, file = `smoke-${r.host}.json`): { file: string; text: string } {
  return { file, text: JSON.stringify(r) };
}
