/**
 * JSON for parse results that hold bigints (addresses, sizes): JSON.stringify cannot write a bigint, so
 * the result gets a non-enumerable toJSON that writes each one as a decimal string.
 */
export function withBigintJson<T extends object>(result: T): T {
  Object.defineProperty(result, 'toJSON', { value: () => jsonSafe(result), enumerable: false });
  return result;
}

function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = jsonSafe(x);
    return out;
  }
  return v;
}
