import Table from 'cli-table3';

/**
 * A plain table (no colour codes: output is read by people and grep alike; cli-table3 colours headers
 * red by default).
 */
export function renderTable(head: string[], rows: (string | number)[][], opts: { align?: ('left' | 'right')[] } = {}): string {
  const table = new Table({
    head,
    style: { head: [], border: [], compact: false },
    // No rule between body rows: denser, and still aligned.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    ...(opts.align ? { colAligns: opts.align } : {}),
  });
  for (const r of rows) table.push(r.map((c) => String(c)));
  return table.toString();
}
