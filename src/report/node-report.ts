/**
 * The per-node report that `kfd-svm smoke --json` / `--out` and `kfd-svm bench --json` / `--out` write, and
 * that `kfd-svm report <dir>` merges. One JSON object per node; the format is versioned so that a cluster
 * that mixes tool versions still merges (newer versions are read for the fields this version knows).
 */

export const NODE_REPORT_FORMAT = 'kfd-svm-node-report';
export const NODE_REPORT_VERSION = 1;

export type CheckStatus = 'pass' | 'fail' | 'skip';
export type ReportKind = 'smoke' | 'bench';
/** `to-gpu` = system memory → GPU VRAM (prefetch to the GPU), `to-system` = the way back. */
export type Direction = 'to-gpu' | 'to-system';
export const DIRECTIONS: readonly Direction[] = ['to-gpu', 'to-system'];

/** A diagnostic value attached to a check (shown in the TAP YAML block). */
export type DiagValue = string | number | boolean;

export interface CheckResult {
  /** Stable id, the same on every node and for every GPU ('prefetch-roundtrip'). */
  id: string;
  /** The line a person reads ('prefetch to GPU 0 (gpu_id 0x1a2b) and back, data checked'). */
  name: string;
  status: CheckStatus;
  /** The GPU a per-GPU check ran on. */
  gpuId?: number;
  durationMs: number;
  /** Why it failed or was skipped. */
  message?: string;
  diagnostics?: Record<string, DiagValue>;
}

/** How a GPU reaches system memory: what sets its migration bandwidth as much as the chip does. */
export type LinkKind = 'coherent' | 'pcie' | 'apu';

export interface BandwidthSample {
  gpuId: number;
  /**
   * Name, gfx target, link and VRAM size together are the "GPU kind" nodes are compared within: the KFD
   * topology names an MI210 (PCIe) and an MI250X GCD (coherent) both "aldebaran", gfx90a.
   */
  gpuName: string;
  gfxTarget: string;
  link?: LinkKind;
  vramBytes?: number;
  direction: Direction;
  bytes: number;
  seconds: number;
  bytesPerSecond: number;
  /** Where the time came from: the simulator's clock, or wall time on real hardware. */
  clock: 'sim' | 'wall';
}

export interface GpuSummary {
  gpuId: number;
  name: string;
  gfxTarget: string;
  coherent: boolean;
}

/** What Slurm told the process (srun sets these), so the merger can tell how many nodes to expect. */
export interface SlurmInfo {
  jobId?: string;
  nodeId?: number;
  numNodes?: number;
  nodeList?: string;
  /**
   * SLURM_LOCALID, set only when the step runs several tasks per node (e.g. one per GPU): each task then
   * writes its own report, and the merger counts them as one node.
   */
  task?: number;
  /** How many tasks the step runs on this node (SLURM_STEP_TASKS_PER_NODE at SLURM_NODEID), with `task`. */
  tasksOnNode?: number;
}

export interface NodeReport {
  format: typeof NODE_REPORT_FORMAT;
  version: number;
  kind: ReportKind;
  host: string;
  startedAt: string;
  finishedAt?: string;
  /** False while the run is in progress: a node that died mid-run leaves a report that says so. */
  complete: boolean;
  tool: { name: string; version: string };
  backend: string;
  fallbackReason?: string;
  profile?: string;
  kfdVersion?: { major: number; minor: number };
  xnack?: boolean;
  gpus: GpuSummary[];
  checks: CheckResult[];
  bandwidth: BandwidthSample[];
  /** Per-call overhead of a quick call, nanoseconds (bench only). */
  callOverheadNs?: number;
  slurm?: SlurmInfo;
  /** True when the run completed and no check failed. */
  ok: boolean;
}

/** The result of reading one file: a report (with what was odd about it), or why it could not be read. */
export type ReadResult =
  | { readable: true; report: NodeReport; warnings: string[] }
  | { readable: false; reason: string; notAReport?: boolean; isSummary?: boolean };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

function readCheck(v: unknown): CheckResult | undefined {
  if (!isObj(v)) return undefined;
  const id = str(v.id);
  const status = v.status;
  if (!id || (status !== 'pass' && status !== 'fail' && status !== 'skip')) return undefined;
  const check: CheckResult = { id, name: str(v.name) ?? id, status, durationMs: num(v.durationMs) ?? 0 };
  const gpuId = num(v.gpuId);
  if (gpuId !== undefined) check.gpuId = gpuId;
  const message = str(v.message);
  if (message !== undefined) check.message = message;
  if (isObj(v.diagnostics)) {
    const diagnostics: Record<string, DiagValue> = {};
    for (const [k, d] of Object.entries(v.diagnostics)) {
      if (typeof d === 'string' || typeof d === 'number' || typeof d === 'boolean') diagnostics[k] = d;
    }
    check.diagnostics = diagnostics;
  }
  return check;
}

function readSample(v: unknown): BandwidthSample | undefined {
  if (!isObj(v)) return undefined;
  const gpuId = num(v.gpuId);
  const direction = v.direction;
  const bytes = num(v.bytes);
  const seconds = num(v.seconds);
  let bytesPerSecond = num(v.bytesPerSecond);
  if (gpuId === undefined || (direction !== 'to-gpu' && direction !== 'to-system') || bytes === undefined) return undefined;
  if (bytesPerSecond === undefined && seconds !== undefined && seconds > 0) bytesPerSecond = bytes / seconds;
  if (bytesPerSecond === undefined || bytesPerSecond <= 0) return undefined;
  const link = v.link === 'coherent' || v.link === 'pcie' || v.link === 'apu' ? v.link : undefined;
  const vramBytes = num(v.vramBytes);
  return {
    gpuId,
    gpuName: str(v.gpuName) ?? 'unknown GPU',
    gfxTarget: str(v.gfxTarget) ?? 'unknown',
    ...(link !== undefined ? { link } : {}),
    ...(vramBytes !== undefined ? { vramBytes } : {}),
    direction,
    bytes,
    seconds: seconds ?? bytes / bytesPerSecond,
    bytesPerSecond,
    clock: v.clock === 'sim' ? 'sim' : 'wall',
  };
}

function readGpu(v: unknown): GpuSummary | undefined {
  if (!isObj(v)) return undefined;
  const gpuId = num(v.gpuId);
  if (gpuId === undefined) return undefined;
  return { gpuId, name: str(v.name) ?? 'unknown GPU', gfxTarget: str(v.gfxTarget) ?? 'unknown', coherent: bool(v.coherent) ?? false };
}

/** Reads a list field entry by entry: a bad entry is dropped and noted, the rest kept. */
function readList<T>(v: unknown, field: string, read: (e: unknown) => T | undefined, warnings: string[]): T[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    warnings.push(`"${field}" is not a list: ignored`);
    return [];
  }
  const out: T[] = [];
  let dropped = 0;
  for (const e of v) {
    const r = read(e);
    if (r === undefined) dropped++;
    else out.push(r);
  }
  if (dropped > 0) warnings.push(`${dropped} malformed "${field}" entr${dropped === 1 ? 'y' : 'ies'} ignored`);
  return out;
}

/**
 * Reads one node report from its text, tolerating what real clusters produce: a truncated file from a
 * node killed mid-write, a run that never finished, entries this version does not know, a newer format.
 * Never throws.
 */
export function readNodeReport(text: string): ReadResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { readable: false, reason: text.trim() === '' ? 'empty file' : `not valid JSON (${why})` };
  }
  // `kfd-svm report --summary <dir>/summary.json` may sit beside the node reports: not a node, not a problem.
  if (isObj(data) && data.format === 'kfd-svm-report-summary') {
    return { readable: false, reason: 'a merged summary', notAReport: true, isSummary: true };
  }
  if (!isObj(data) || data.format !== NODE_REPORT_FORMAT) {
    return { readable: false, reason: 'not a kfd-svm node report', notAReport: true };
  }
  const warnings: string[] = [];
  const version = num(data.version);
  if (version === undefined || !Number.isInteger(version) || version < 1) {
    return { readable: false, reason: `unknown report version ${JSON.stringify(data.version ?? null)}` };
  }
  if (version > NODE_REPORT_VERSION) {
    warnings.push(`report version ${version} is newer than this tool reads (${NODE_REPORT_VERSION}): read the fields it knows`);
  }
  const host = str(data.host);
  if (!host) return { readable: false, reason: 'no "host" field' };
  const kind: ReportKind = data.kind === 'bench' ? 'bench' : 'smoke';
  const checks = readList(data.checks, 'checks', readCheck, warnings);
  const bandwidth = readList(data.bandwidth, 'bandwidth', readSample, warnings);
  const gpus = readList(data.gpus, 'gpus', readGpu, warnings);
  const complete = bool(data.complete) ?? false;
  if (bool(data.complete) === undefined) warnings.push('no "complete" field: taken as an unfinished run');
  const tool = isObj(data.tool) ? data.tool : {};
  const report: NodeReport = {
    format: NODE_REPORT_FORMAT,
    version,
    kind,
    host,
    startedAt: str(data.startedAt) ?? '',
    complete,
    tool: { name: str(tool.name) ?? 'kfd-svm', version: str(tool.version) ?? 'unknown' },
    backend: str(data.backend) ?? 'unknown',
    gpus,
    checks,
    bandwidth,
    ok: false,
  };
  const finishedAt = str(data.finishedAt);
  if (finishedAt !== undefined) report.finishedAt = finishedAt;
  const fallbackReason = str(data.fallbackReason);
  if (fallbackReason !== undefined) report.fallbackReason = fallbackReason;
  const profile = str(data.profile);
  if (profile !== undefined) report.profile = profile;
  if (isObj(data.kfdVersion)) {
    const major = num(data.kfdVersion.major);
    const minor = num(data.kfdVersion.minor);
    if (major !== undefined && minor !== undefined) report.kfdVersion = { major, minor };
  }
  const xnack = bool(data.xnack);
  if (xnack !== undefined) report.xnack = xnack;
  const overhead = num(data.callOverheadNs);
  if (overhead !== undefined) report.callOverheadNs = overhead;
  if (isObj(data.slurm)) {
    const s: SlurmInfo = {};
    const jobId = str(data.slurm.jobId);
    if (jobId !== undefined) s.jobId = jobId;
    const nodeId = num(data.slurm.nodeId);
    if (nodeId !== undefined) s.nodeId = nodeId;
    const numNodes = num(data.slurm.numNodes);
    if (numNodes !== undefined) s.numNodes = numNodes;
    const nodeList = str(data.slurm.nodeList);
    if (nodeList !== undefined) s.nodeList = nodeList;
    const task = num(data.slurm.task);
    if (task !== undefined && Number.isInteger(task) && task >= 0) s.task = task;
    const tasksOnNode = num(data.slurm.tasksOnNode);
    if (tasksOnNode !== undefined && Number.isInteger(tasksOnNode) && tasksOnNode > 0) s.tasksOnNode = tasksOnNode;
    report.slurm = s;
  }
  // `ok` is recomputed, not trusted: a report that claims ok but lists a failure is not ok.
  report.ok = complete && !checks.some((c) => c.status === 'fail');
  if (bool(data.ok) === true && !report.ok) warnings.push('the report says ok but has failures or is unfinished');
  return { readable: true, report, warnings };
}

/** The link kind of a GPU. */
export function linkOf(g: { coherent: boolean; apu?: boolean }): LinkKind {
  return g.apu ? 'apu' : g.coherent ? 'coherent' : 'pcie';
}

/** What `process.env` says about the Slurm job this process runs in, if any. */
export function slurmFromEnv(env: NodeJS.ProcessEnv): SlurmInfo | undefined {
  const jobId = env.SLURM_JOB_ID ?? env.SLURM_JOBID;
  if (!jobId) return undefined;
  const s: SlurmInfo = { jobId };
  const nodeId = Number(env.SLURM_NODEID);
  if (env.SLURM_NODEID !== undefined && Number.isInteger(nodeId)) s.nodeId = nodeId;
  const nn = Number(env.SLURM_JOB_NUM_NODES ?? env.SLURM_NNODES);
  if (Number.isInteger(nn) && nn > 0) s.numNodes = nn;
  const list = env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST;
  if (list) s.nodeList = list;
  // More tasks than nodes in this step: several tasks share a node and must not share a report file.
  const tasks = Number(env.SLURM_STEP_NUM_TASKS ?? env.SLURM_NTASKS);
  const nodes = Number(env.SLURM_STEP_NUM_NODES ?? env.SLURM_NNODES ?? env.SLURM_JOB_NUM_NODES);
  const localId = Number(env.SLURM_LOCALID);
  if (env.SLURM_LOCALID !== undefined && Number.isInteger(localId) && localId >= 0 && tasks > nodes && nodes > 0) {
    s.task = localId;
    const perNode = expandTasksPerNode(env.SLURM_STEP_TASKS_PER_NODE ?? env.SLURM_TASKS_PER_NODE);
    const onNode = s.nodeId === undefined ? undefined : perNode?.[s.nodeId];
    if (onNode !== undefined && onNode > 0) s.tasksOnNode = onNode;
  }
  return s;
}

/** Slurm's compressed tasks-per-node list, node by node: "2(x3),1" → [2, 2, 2, 1]; undefined if malformed. */
export function expandTasksPerNode(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  const out: number[] = [];
  for (const item of text.split(',')) {
    const m = /^(\d+)(?:\(x(\d+)\))?$/.exec(item.trim());
    if (!m) return undefined;
    const repeat = m[2] === undefined ? 1 : Number(m[2]);
    if (out.length + repeat > 100_000) return undefined; // no job has that many nodes
    for (let i = 0; i < repeat; i++) out.push(Number(m[1]));
  }
  return out;
}
