import type { ReportSummary } from '../../report/merge.js';
import { renderTable } from '../format/table.js';
import { formatBytes, formatPercent, formatRate } from '../format/units.js';

const STATUS_LABEL = { fail: 'FAIL', incomplete: 'INCOMPLETE', unreadable: 'UNREADABLE', missing: 'MISSING', pass: 'pass' } as const;
const LINK_LABEL = { coherent: 'coherent link', pcie: 'PCIe', apu: 'APU' } as const;
const DIRECTION_LABEL = { 'to-gpu': 'system→GPU', 'to-system': 'GPU→system' } as const;

/** Cuts a long list for a table cell: "a, b, c (+4 more)". */
function list(items: readonly string[], max = 4): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} (+${items.length - max} more)`;
}

/** Past this many passing nodes the table lists the others in one line (all of them with `--all`). */
export const PASSING_ROWS_SHOWN = 32;

/** The merged report as text: a headline, the nodes (failing first), checks, bandwidth, problems. */
export function renderReport(s: ReportSummary, opts: { allNodes?: boolean } = {}): string {
  const out: string[] = [];
  const n = s.nodes;
  const parts = [`${n.pass} pass`];
  if (n.fail) parts.push(`${n.fail} fail`);
  if (n.incomplete) parts.push(`${n.incomplete} incomplete`);
  if (n.unreadable) parts.push(`${n.unreadable} unreadable`);
  if (n.missing) parts.push(`${n.missing} missing`);
  const expected = n.expected !== null ? ` (expected ${n.expected})` : '';
  out.push(`${s.ok ? 'OK' : 'NOT OK'}: ${n.total} node${n.total === 1 ? '' : 's'}${expected}: ${parts.join(', ')}`);
  out.push('');

  if (s.nodeRows.length > 0) {
    // Every node that needs a look is listed; passing nodes without outliers are cut short on big clusters.
    const quiet = s.nodeRows.filter((r) => r.status === 'pass' && r.outliers === 0);
    const hidden = opts.allNodes || quiet.length <= PASSING_ROWS_SHOWN ? [] : quiet.slice(PASSING_ROWS_SHOWN);
    const shown = s.nodeRows.filter((r) => !hidden.includes(r));
    out.push('Nodes (failing first)');
    out.push(
      renderTable(
        ['host', 'status', 'backend', 'GPUs', 'pass', 'fail', 'skip', 'failed checks / reason', 'bw outliers'],
        shown.map((r) => [
          r.host,
          STATUS_LABEL[r.status],
          r.backend ?? '-',
          r.gpus,
          r.passed,
          r.failed,
          r.skipped,
          r.failedChecks.length > 0 ? list(r.failedChecks) : (r.reason ?? ''),
          r.outliers || '',
        ]),
      ),
    );
    if (hidden.length > 0) {
      out.push(`… and ${hidden.length} more passing node${hidden.length === 1 ? '' : 's'} (${list(hidden.map((r) => r.host), 3)}); --all lists them`);
    }
    const unnamed = n.missing - s.nodeRows.filter((r) => r.status === 'missing').length;
    if (unnamed > 0) out.push(`${unnamed} more node${unnamed === 1 ? '' : 's'} expected but no report found (names unknown)`);
    out.push('');
  }

  if (s.checks.length > 0) {
    out.push('Checks (pass rate over the nodes that ran them)');
    out.push(
      renderTable(
        ['check', 'pass rate', 'passed', 'failed', 'skipped', 'failing nodes'],
        s.checks.map((c) => [c.id, formatPercent(c.passRate), c.nodesPassed, c.nodesFailed, c.nodesSkipped, list(c.failingHosts)]),
      ),
    );
    out.push('');
  }

  if (s.bandwidth.length > 0) {
    out.push(`Bandwidth per GPU kind (outlier: outside median ± max(${s.rule.k}·1.4826·MAD, ${formatPercent(s.rule.minRelative)} of median))`);
    out.push(
      renderTable(
        ['GPU kind', 'direction', 'size', 'samples', 'median', 'MAD', 'outliers'],
        s.bandwidth.map((g) => [
          [g.gpuName, g.gfxTarget, g.link ? LINK_LABEL[g.link] : null, g.vramBytes !== null ? formatBytes(g.vramBytes) : null].filter(Boolean).join(' · '),
          DIRECTION_LABEL[g.direction],
          formatBytes(g.bytes),
          g.n,
          formatRate(g.median),
          formatRate(g.mad),
          g.low === null
            ? `too few samples (< ${s.rule.minGroup})`
            : list(
                g.outliers.map(
                  (o) => `${o.host} gpu ${o.gpuId}: ${formatRate(o.bytesPerSecond)} (${o.deviation > 0 ? '+' : ''}${(o.deviation * 100).toFixed(0)}%)`,
                ),
                3,
              ) || 'none',
        ]),
      ),
    );
    out.push('');
  }

  if (s.problems.length > 0) {
    out.push('Input problems');
    for (const p of s.problems) out.push(`  ${p.file}: ${p.problem}`);
    out.push('');
  }
  return out.join('\n');
}
