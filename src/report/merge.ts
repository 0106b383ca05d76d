/**
 * Merges per-node reports (one JSON file per node, as `srun … kfd-svm smoke --out <dir>` writes them) into
 * one summary: every node with its status (failing nodes first), the pass rate of each check across nodes,
 * and bandwidth outliers within each GPU kind. Pure: the caller reads the files.
 */
import { DEFAULT_OUTLIER_RULE, outlierBounds, type OutlierRule } from './stats.js';
import { readNodeReport, type CheckStatus, type Direction, type LinkKind, type NodeReport } from './node-report.js';
import { expandHostlist, shortHost } from './hostlist.js';

export const SUMMARY_FORMAT = 'kfd-svm-report-summary';
export const SUMMARY_VERSION = 1;

/** fail: a check failed · incomplete: the run never finished · unreadable: the file could not be read ·
 *  missing: Slurm says the node was in the job but it wrote no report · pass. */
export type NodeStatus = 'fail' | 'incomplete' | 'unreadable' | 'missing' | 'pass';
const STATUS_RANK: Record<NodeStatus, number> = { fail: 0, incomplete: 1, unreadable: 2, missing: 3, pass: 4 };

export interface InputFile {
  /** File name (used to guess the host of an unreadable report: smoke-<host>.json). */
  file: string;
  text: string;
}

export interface NodeRow {
  host: string;
  status: NodeStatus;
  /** The file the row came from (none for a missing node). */
  file?: string;
  kind?: 'smoke' | 'bench';
  backend?: string;
  profile?: string;
  toolVersion?: string;
  gpus: number;
  passed: number;
  failed: number;
  skipped: number;
  failedChecks: string[];
  /** Why the node is not 'pass' when no check says so (unreadable, incomplete, missing). */
  reason?: string;
  /** How many of its bandwidth samples are outliers. */
  outliers: number;
}

export interface CheckRow {
  id: string;
  /** Nodes on which the check ran at least once and did not fail. */
  nodesPassed: number;
  nodesFailed: number;
  /** Nodes where it was skipped (fully or partly) without failing. */
  nodesSkipped: number;
  /** nodesPassed / (nodesPassed + nodesFailed), or null when it ran nowhere. */
  passRate: number | null;
  failingHosts: string[];
}

export interface Outlier {
  host: string;
  gpuId: number;
  bytesPerSecond: number;
  /** (value − median) / median. */
  deviation: number;
  side: 'low' | 'high';
}

export interface BandwidthGroup {
  gpuName: string;
  gfxTarget: string;
  /** Null when the reports did not say (older reports). */
  link: LinkKind | null;
  vramBytes: number | null;
  direction: Direction;
  bytes: number;
  /** Samples (one per GPU per node). */
  n: number;
  median: number;
  mad: number;
  /** Outside [low, high] is an outlier; null when the group is too small to judge. */
  low: number | null;
  high: number | null;
  outliers: Outlier[];
}

export interface Problem {
  file: string;
  problem: string;
}

export interface ReportSummary {
  format: typeof SUMMARY_FORMAT;
  version: number;
  generatedAt: string;
  ok: boolean;
  nodes: {
    total: number;
    pass: number;
    fail: number;
    incomplete: number;
    unreadable: number;
    missing: number;
    /** How many nodes were expected (from --expect or the reports' Slurm info), if known. */
    expected: number | null;
  };
  rule: OutlierRule;
  nodeRows: NodeRow[];
  checks: CheckRow[];
  bandwidth: BandwidthGroup[];
  /** Files that were ignored, duplicates, odd contents: everything a person should know about the input. */
  problems: Problem[];
}

export interface MergeOptions {
  rule?: OutlierRule;
  /** The number of nodes that should have reported (e.g. $SLURM_JOB_NUM_NODES). */
  expect?: number;
  /** Timestamp for the summary (injectable for tests). */
  now?: Date;
}

const collator = new Intl.Collator('en', { numeric: true });

/** `smoke-nid001.json` (or `smoke-nid001.task3.json`) → `nid001`. */
export function hostFromFileName(file: string): string {
  const base = file.replace(/^.*[\\/]/, '').replace(/\.json$/i, '').replace(/\.task\d+$/, '');
  return base.replace(/^(smoke|bench)-/, '') || base;
}

/**
 * Several tasks on one node (one per GPU): the node's GPUs are the union of its tasks' GPUs, and a node
 * whose step ran more tasks than wrote a report is incomplete (a task that died before its first write).
 */
function completeTaskSets(accepted: readonly Accepted[], rowsByHost: Map<string, NodeRow>): void {
  const byHost = new Map<string, { gpuIds: Set<number>; tasks: Map<string, Set<number>>; expected: Map<string, number> }>();
  for (const { report } of accepted) {
    const host = shortHost(report.host);
    let h = byHost.get(host);
    if (!h) byHost.set(host, (h = { gpuIds: new Set(), tasks: new Map(), expected: new Map() }));
    for (const g of report.gpus) h.gpuIds.add(g.gpuId);
    const { task, tasksOnNode } = report.slurm ?? {};
    if (task === undefined) continue;
    const seen = h.tasks.get(report.kind) ?? new Set<number>();
    h.tasks.set(report.kind, seen.add(task));
    if (tasksOnNode !== undefined) h.expected.set(report.kind, Math.max(h.expected.get(report.kind) ?? 0, tasksOnNode));
  }
  for (const [host, h] of byHost) {
    const row = rowsByHost.get(host);
    if (!row) continue;
    row.gpus = Math.max(row.gpus, h.gpuIds.size);
    for (const [kind, expected] of h.expected) {
      const got = h.tasks.get(kind)?.size ?? 0;
      if (got >= expected) continue;
      const why = `${got} of ${expected} ${kind} tasks reported`;
      row.reason = row.reason ? `${row.reason}; ${why}` : why;
      if (row.status === 'pass') row.status = 'incomplete';
    }
  }
}

/** The row of a node with no report to read (unreadable file, or missing from the Slurm node list). */
function rowWithoutReport(host: string, status: 'unreadable' | 'missing', reason: string, file?: string): NodeRow {
  return {
    host,
    status,
    ...(file === undefined ? {} : { file }),
    gpus: 0,
    passed: 0,
    failed: 0,
    skipped: 0,
    failedChecks: [],
    reason,
    outliers: 0,
  };
}

/** The time a report was started, for picking the newest of duplicates (unparseable dates sort first). */
function startedMs(r: NodeReport): number {
  const t = Date.parse(r.startedAt);
  return Number.isNaN(t) ? -Infinity : t;
}

interface Accepted {
  file: string;
  report: NodeReport;
}

/** Per node, the status of one check id: any failure fails it; any skip (without failure) skips it. */
function nodeCheckStatus(statuses: CheckStatus[]): CheckStatus {
  if (statuses.includes('fail')) return 'fail';
  if (statuses.includes('skip')) return 'skip';
  return 'pass';
}

export function mergeReports(inputs: readonly InputFile[], options: MergeOptions = {}): ReportSummary {
  const rule = options.rule ?? DEFAULT_OUTLIER_RULE;
  const problems: Problem[] = [];
  const unreadable: NodeRow[] = [];
  // Smoke and bench reports of one host are kept apart: a host may have both, which is no duplicate.
  const byHostKind = new Map<string, Accepted>();

  for (const input of [...inputs].sort((a, b) => collator.compare(a.file, b.file))) {
    const r = readNodeReport(input.text);
    if (!r.readable) {
      if (r.isSummary) continue;
      if (r.notAReport) {
        problems.push({ file: input.file, problem: `${r.reason}: ignored` });
        continue;
      }
      problems.push({ file: input.file, problem: r.reason });
      unreadable.push(rowWithoutReport(hostFromFileName(input.file), 'unreadable', r.reason, input.file));
      continue;
    }
    for (const w of r.warnings) problems.push({ file: input.file, problem: w });
    // Several tasks on one node (one per GPU) each write a report: a duplicate is the same task again.
    const key = `${r.report.kind}\0${shortHost(r.report.host)}\0${r.report.slurm?.task ?? ''}`;
    const prev = byHostKind.get(key);
    if (!prev) {
      byHostKind.set(key, { file: input.file, report: r.report });
      continue;
    }
    // Keep a finished run over an unfinished one, then the newest.
    const better =
      r.report.complete !== prev.report.complete ? r.report.complete : startedMs(r.report) > startedMs(prev.report);
    const [kept, dropped] = better ? [{ file: input.file, report: r.report }, prev] : [prev, { file: input.file, report: r.report }];
    byHostKind.set(key, kept);
    problems.push({
      file: dropped.file,
      problem: `duplicate ${r.report.kind} report for host ${r.report.host}${r.report.slurm?.task === undefined ? '' : ` task ${r.report.slurm.task}`}: kept ${kept.file}`,
    });
  }

  const accepted = [...byHostKind.values()];

  // Bandwidth groups: the same GPU kind, direction and transfer size are comparable across nodes.
  const groups = new Map<string, { key: Omit<BandwidthGroup, 'n' | 'median' | 'mad' | 'low' | 'high' | 'outliers'>; samples: { host: string; gpuId: number; v: number }[] }>();
  for (const { report } of accepted) {
    for (const s of report.bandwidth) {
      const k = `${s.gpuName}\0${s.gfxTarget}\0${s.link ?? ''}\0${s.vramBytes ?? ''}\0${s.direction}\0${s.bytes}`;
      let g = groups.get(k);
      if (!g) {
        g = {
          key: { gpuName: s.gpuName, gfxTarget: s.gfxTarget, link: s.link ?? null, vramBytes: s.vramBytes ?? null, direction: s.direction, bytes: s.bytes },
          samples: [],
        };
        groups.set(k, g);
      }
      g.samples.push({ host: report.host, gpuId: s.gpuId, v: s.bytesPerSecond });
    }
  }
  const outliersByHost = new Map<string, number>();
  const bandwidth: BandwidthGroup[] = [];
  for (const g of groups.values()) {
    const bounds = outlierBounds(g.samples.map((s) => s.v), rule);
    const outliers: Outlier[] = [];
    if (bounds) {
      for (const s of g.samples) {
        if (s.v >= bounds.low && s.v <= bounds.high) continue;
        outliers.push({
          host: s.host,
          gpuId: s.gpuId,
          bytesPerSecond: s.v,
          deviation: bounds.median === 0 ? 0 : (s.v - bounds.median) / bounds.median,
          side: s.v < bounds.low ? 'low' : 'high',
        });
        outliersByHost.set(s.host, (outliersByHost.get(s.host) ?? 0) + 1);
      }
    }
    outliers.sort((a, b) => a.deviation - b.deviation);
    const values = g.samples.map((s) => s.v);
    const fallback = outlierBounds(values, { ...rule, minGroup: 1 });
    bandwidth.push({
      ...g.key,
      n: g.samples.length,
      median: fallback?.median ?? 0,
      mad: fallback?.mad ?? 0,
      low: bounds?.low ?? null,
      high: bounds?.high ?? null,
      outliers,
    });
  }
  bandwidth.sort(
    (a, b) =>
      collator.compare(a.gpuName, b.gpuName) ||
      collator.compare(a.gfxTarget, b.gfxTarget) ||
      collator.compare(a.link ?? '', b.link ?? '') ||
      (a.vramBytes ?? 0) - (b.vramBytes ?? 0) ||
      collator.compare(a.direction, b.direction) ||
      a.bytes - b.bytes,
  );

  // Nodes: one row per host. A host with both a smoke and a bench report, or with the reports of several
  // tasks, gets one row from all of them.
  const rowsByHost = new Map<string, NodeRow>();
  for (const { file, report } of accepted) {
    const host = shortHost(report.host);
    const failedChecks = new Set<string>();
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const c of report.checks) {
      if (c.status === 'pass') passed++;
      else if (c.status === 'fail') {
        failed++;
        failedChecks.add(c.id);
      } else skipped++;
    }
    const status: NodeStatus = failed > 0 ? 'fail' : report.complete ? 'pass' : 'incomplete';
    const row: NodeRow = {
      host,
      status,
      file,
      kind: report.kind,
      backend: report.backend,
      toolVersion: report.tool.version,
      gpus: report.gpus.length,
      passed,
      failed,
      skipped,
      failedChecks: [...failedChecks],
      outliers: outliersByHost.get(report.host) ?? 0,
    };
    if (report.profile !== undefined) row.profile = report.profile;
    if (!report.complete) row.reason = `run did not finish (${report.checks.length} check${report.checks.length === 1 ? '' : 's'} recorded)`;
    const prev = rowsByHost.get(host);
    if (!prev) {
      rowsByHost.set(host, row);
      continue;
    }
    // Combine: the worse status wins; counts add up.
    const worse = STATUS_RANK[row.status] < STATUS_RANK[prev.status] ? row : prev;
    const combined: NodeRow = {
      ...worse,
      file: `${prev.file}, ${row.file}`,
      gpus: Math.max(prev.gpus, row.gpus),
      passed: prev.passed + row.passed,
      failed: prev.failed + row.failed,
      skipped: prev.skipped + row.skipped,
      failedChecks: [...new Set([...prev.failedChecks, ...row.failedChecks])],
      outliers: prev.outliers,
    };
    if (prev.kind !== row.kind) delete combined.kind;
    rowsByHost.set(host, combined);
  }
  completeTaskSets(accepted, rowsByHost);
  // An unreadable file for a host that also has a readable report is only a problem, not a node.
  for (const u of unreadable) {
    if (!rowsByHost.has(shortHost(u.host))) rowsByHost.set(shortHost(u.host), u);
  }

  // Expected nodes: --expect, else what Slurm told the nodes. Named when the node list is known.
  let expected: number | null = options.expect ?? null;
  let nodeList: string | undefined;
  for (const { report } of accepted) {
    if (options.expect === undefined && report.slurm?.numNodes !== undefined) {
      expected = Math.max(expected ?? 0, report.slurm.numNodes);
    }
    nodeList ??= report.slurm?.nodeList;
  }
  if (nodeList !== undefined) {
    try {
      for (const h of expandHostlist(nodeList)) {
        if (rowsByHost.has(h)) continue;
        rowsByHost.set(h, rowWithoutReport(h, 'missing', 'in the Slurm node list but wrote no report'));
      }
    } catch (e) {
      problems.push({ file: '(slurm)', problem: `cannot expand node list "${nodeList}": ${(e as Error).message}` });
    }
  }
  const present = rowsByHost.size;
  let unnamedMissing = 0;
  if (expected !== null && expected > present) unnamedMissing = expected - present;

  const nodeRows = [...rowsByHost.values()].sort(
    (a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status] || collator.compare(a.host, b.host),
  );

  // Checks: per id, per node. Per-GPU checks share an id, and so do the checks of several tasks on one
  // node: a node passes a check when every GPU and every task passed it.
  const perHost = new Map<string, Map<string, CheckStatus[]>>();
  for (const { report } of accepted) {
    const host = shortHost(report.host);
    const perId = perHost.get(host) ?? new Map<string, CheckStatus[]>();
    perHost.set(host, perId);
    for (const c of report.checks) {
      const statuses = perId.get(c.id) ?? [];
      statuses.push(c.status);
      perId.set(c.id, statuses);
    }
  }
  const checkRows = new Map<string, CheckRow & { order: number }>();
  let order = 0;
  for (const [host, perId] of perHost) {
    for (const [id, statuses] of perId) {
      let row = checkRows.get(id);
      if (!row) {
        row = { id, nodesPassed: 0, nodesFailed: 0, nodesSkipped: 0, passRate: null, failingHosts: [], order: order++ };
        checkRows.set(id, row);
      }
      const s = nodeCheckStatus(statuses);
      if (s === 'pass') row.nodesPassed++;
      else if (s === 'fail') {
        row.nodesFailed++;
        row.failingHosts.push(host);
      } else row.nodesSkipped++;
    }
  }
  const checks: CheckRow[] = [...checkRows.values()]
    .sort((a, b) => a.order - b.order)
    .map(({ order: _order, ...row }) => {
      const ran = row.nodesPassed + row.nodesFailed;
      row.failingHosts.sort(collator.compare);
      return { ...row, passRate: ran === 0 ? null : row.nodesPassed / ran };
    });

  const count = (s: NodeStatus): number => nodeRows.filter((r) => r.status === s).length;
  const nodes = {
    total: nodeRows.length + unnamedMissing,
    pass: count('pass'),
    fail: count('fail'),
    incomplete: count('incomplete'),
    unreadable: count('unreadable'),
    missing: count('missing') + unnamedMissing,
    expected,
  };
  return {
    format: SUMMARY_FORMAT,
    version: SUMMARY_VERSION,
    generatedAt: (options.now ?? new Date()).toISOString(),
    // Outliers are reported, not failed on: a slow link is worth a look, not a drained node.
    ok: nodes.total > 0 && nodes.pass === nodes.total,
    nodes,
    rule,
    nodeRows,
    checks,
    bandwidth,
    problems,
  };
}
