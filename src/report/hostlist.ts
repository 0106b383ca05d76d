/**
 * Slurm host lists (`SLURM_JOB_NODELIST`), e.g. `nid[001-003,007],login1` or `r[1-2]n[01-02]`: expanded
 * so the merger can name the nodes that wrote no report. Zero padding follows the lower bound of each
 * range, as Slurm's hostlist does.
 */

/** Splits at commas that are not inside brackets. */
function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list) {
    if (ch === '[') depth++;
    else if (ch === ']') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function expandRangeSet(set: string, limit: number): string[] {
  const out: string[] = [];
  for (const item of set.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item.trim());
    if (!m) throw new Error(`bad host range "${item}"`);
    const lo = m[1]!;
    const hi = m[2] ?? lo;
    const a = Number(lo);
    const b = Number(hi);
    if (b < a) throw new Error(`bad host range "${item}"`);
    if (out.length + (b - a + 1) > limit) throw new Error('host list too long');
    for (let i = a; i <= b; i++) out.push(String(i).padStart(lo.length, '0'));
  }
  return out;
}

/**
 * Expands a Slurm host list into host names. Throws an Error on a malformed list or one of more than
 * `limit` hosts (a guard against `n[0-999999999]`).
 */
export function expandHostlist(list: string, limit = 100_000): string[] {
  const hosts: string[] = [];
  for (const part of splitTopLevel(list)) {
    let names = [''];
    const re = /([^[\]]*)(?:\[([^\]]*)\])?/gy;
    let consumed = 0;
    for (let m = re.exec(part); m !== null && consumed < part.length; m = re.exec(part)) {
      if (m[0] === '') break;
      consumed += m[0].length;
      const prefix = m[1] ?? '';
      const suffixes = m[2] !== undefined ? expandRangeSet(m[2], limit) : [''];
      const next: string[] = [];
      for (const n of names) for (const s of suffixes) next.push(n + prefix + s);
      if (next.length > limit) throw new Error('host list too long');
      names = next;
    }
    if (consumed !== part.length) throw new Error(`bad host list entry "${part}"`);
    hosts.push(...names);
    if (hosts.length > limit) throw new Error('host list too long');
  }
  return hosts;
}

/** The short host name (before the first dot), which is what Slurm node names are. */
export function shortHost(host: string): string {
  const dot = host.indexOf('.');
  return dot > 0 ? host.slice(0, dot) : host;
}
