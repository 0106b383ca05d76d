/**
 * A TAP version 14 producer (https://testanything.org/tap-version-14-specification.html): test points,
 * `# SKIP` directives, YAML diagnostic blocks, the plan at the end (the number of checks depends on the GPUs
 * found, and the plan-at-end form is valid TAP).
 */
import type { DiagValue } from '../../report/node-report.js';

export interface TapPoint {
  ok: boolean;
  description: string;
  /** Makes the point a `# SKIP <reason>` (a skipped point is always `ok`). */
  skip?: string;
  /** A YAML block under a failing point: message, errno, what was expected, … */
  diagnostics?: Record<string, DiagValue>;
}

/** A TAP description may not contain '#' unescaped (it starts a directive) nor a line break. */
export function escapeDescription(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/#/g, '\\#').replace(/[\r\n]+/g, ' ');
}

/** A YAML scalar: JSON strings are valid YAML double-quoted scalars; numbers and booleans are plain. */
function yamlScalar(v: DiagValue): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

export class TapWriter {
  private count = 0;
  private readonly counts = { pass: 0, fail: 0, skip: 0 };

  constructor(private readonly write: (line: string) => void) {}

  header(): void {
    this.write('TAP version 14');
  }

  comment(text: string): void {
    for (const line of text.split('\n')) this.write(`# ${line}`);
  }

  point(p: TapPoint): void {
    this.count++;
    const ok = p.skip !== undefined || p.ok;
    if (p.skip !== undefined) this.counts.skip++;
    else if (p.ok) this.counts.pass++;
    else this.counts.fail++;
    let line = `${ok ? 'ok' : 'not ok'} ${this.count} - ${escapeDescription(p.description)}`;
    if (p.skip !== undefined) line += ` # SKIP ${escapeDescription(p.skip)}`;
    this.write(line);
    const diag = p.diagnostics;
    if (diag && Object.keys(diag).length > 0) {
      this.write('  ---');
      for (const [k, v] of Object.entries(diag)) this.write(`  ${/^[A-Za-z_][\w-]*$/.test(k) ? k : JSON.stringify(k)}: ${yamlScalar(v)}`);
      this.write('  ...');
    }
  }

  /** Writes the plan (`1..N`) and a closing summary comment. */
  end(): void {
    this.write(`1..${this.count}`);
    this.write(`# pass ${this.counts.pass}, fail ${this.counts.fail}, skip ${this.counts.skip}`);
  }

  get failed(): number {
    return this.counts.fail;
  }
}
