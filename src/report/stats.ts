/**
 * Robust statistics for spotting bandwidth outliers across nodes. The median and the median absolute
 * deviation (MAD) are used instead of mean and standard deviation because one bad node (a GPU stuck at
 * PCIe gen1, a link down) must not drag the reference it is compared against.
 */

/** The median of a list (the mean of the two middle values for an even count). NaN for an empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length % 2 === 1) return sorted[mid]!;
  return (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median absolute deviation from the median (unscaled). NaN for an empty list. */
export function mad(values: readonly number[], center = median(values)): number {
  return median(values.map((v) => Math.abs(v - center)));
}

/**
 * 1.4826 × MAD estimates the standard deviation of normally distributed data, so `k` reads like a
 * number of standard deviations (k = 3 is the usual choice).
 */
export const MAD_TO_SIGMA = 1.4826;

export interface OutlierRule {
  /** How many (MAD-scaled) standard deviations from the median count as an outlier. */
  k: number;
  /**
   * The smallest deviation that counts, as a fraction of the median. When most nodes measure exactly
   * the same value (the simulator, or a quantised clock) the MAD is 0 and any difference at all would
   * otherwise be an outlier.
   */
  minRelative: number;
  /** Groups smaller than this have no outliers: with two values there is no telling which is off. */
  minGroup: number;
}

export const DEFAULT_OUTLIER_RULE: OutlierRule = { k: 3, minRelative: 0.05, minGroup: 3 };

export interface OutlierBounds {
  median: number;
  mad: number;
  low: number;
  high: number;
}

/** The band outside which a value is an outlier, or undefined when the group is too small to judge. */
export function outlierBounds(values: readonly number[], rule: OutlierRule = DEFAULT_OUTLIER_RULE): OutlierBounds | undefined {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length < Math.max(rule.minGroup, 1)) return undefined;
  const m = median(finite);
  const d = mad(finite, m);
  const half = Math.max(rule.k * MAD_TO_SIGMA * d, rule.minRelative * Math.abs(m));
  return { median: m, mad: d, low: m - half, high: m + half };
}
