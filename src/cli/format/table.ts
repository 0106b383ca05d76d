import { createRequire } from 'node:module';
import type TableType from 'cli-table3';

// Loaded on first use (a CommonJS module): `--help` and usage errors do not pay for it.
const require = createRequire(import.meta.url);
let TableCtor: typeof TableType | undefined;

/**
 * A plain table (no colour codes: output is read by people and grep alike; cli-table3 colours headers
 * red by default).
 */
export function renderTable(head: string[], rows: (string | number)[][], opts: { align?: ('left' | 'right')[] } = {}): string {
  TableCtor ??= require('cli-table3') as typeof TableType;
  const table = new TableCtor({
    head,
    style: { head: [], border: [], compact: false },
    // No rule between body rows: denser, and still aligned.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    ...(opts.align ? { colAligns: opts.align } : {}),
  });
  for (const r of rows) table.push(r.map((c) => String(c)));
  return table.toString();
}
