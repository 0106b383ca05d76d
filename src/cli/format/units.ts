/** Human-readable sizes and rates. Binary units for sizes (memory is sized in powers of two), decimal
 *  GB/s for bandwidth (as vendors and rocm-bandwidth-test quote it). */

const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number | bigint): string {
  let v = typeof bytes === 'bigint' ? Number(bytes) : bytes;
  if (!Number.isFinite(v)) return String(bytes);
  let i = 0;
  while (Math.abs(v) >= 1024 && i < SIZE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = i === 0 || Number.isInteger(v) ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${v.toFixed(digits)} ${SIZE_UNITS[i]}`;
}

export function formatRate(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond)) return '-';
  const gb = bytesPerSecond / 1e9;
  if (gb >= 1) return `${gb.toFixed(gb < 10 ? 2 : 1)} GB/s`;
  const mb = bytesPerSecond / 1e6;
  return `${mb.toFixed(mb < 10 ? 2 : 1)} MB/s`;
}

export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns)) return '-';
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

export function formatPercent(fraction: number | null): string {
  if (fraction === null || !Number.isFinite(fraction)) return '-';
  return `${(fraction * 100).toFixed(fraction === 1 || fraction === 0 ? 0 : 1)}%`;
}

/** `0x1a2b` as the kernel prints gpu_ids in SMI events and as rocminfo prints them in decimal: both. */
export function formatGpuId(gpuId: number): string {
  return `${gpuId} (0x${gpuId.toString(16)})`;
}
