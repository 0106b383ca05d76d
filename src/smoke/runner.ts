/**
 * Runs the smoke suite on one node and builds its report. The device is opened as the first check; the
 * other checks (some once per GPU) follow in a fixed order. A time budget skips what is left once used up.
 * Results are handed out one by one (for TAP, the progress bar and the on-disk report), so a node that dies
 * mid-run still leaves a report of what it did.
 */
import { open, type Device, type Gpu } from '../index.js';
import {
  NODE_REPORT_FORMAT,
  NODE_REPORT_VERSION,
  type BandwidthSample,
  type CheckResult,
  type DiagValue,
  type NodeReport,
  type SlurmInfo,
} from '../report/node-report.js';
import { CheckFailure, CheckSkip } from './assert.js';
import { deviceClock } from './clock.js';
import { SMOKE_CHECKS } from './checks/index.js';
import type { SmokeCheck, SmokeEnv } from './types.js';

export interface SmokeOptions {
  backend?: 'auto' | 'kfd' | 'sim';
  profile?: string;
  /** Chooses the GPUs to test among the device's; throws (e.g. a UsageError) for an unknown one. */
  selectGpus?: (gpus: readonly Gpu[]) => Gpu[];
  /** Seconds of wall time after which the remaining checks are skipped. */
  budgetSeconds?: number;
  bufferBytes?: number;
  eventWaitMs?: number;
  host: string;
  toolVersion: string;
  slurm?: SlurmInfo;
  /** Opens the device (default: `open({ backend, profile })`). */
  openDevice?: () => Promise<Device>;
  /** Errors of opening that are the caller's mistake (a bad profile), thrown rather than reported. */
  rethrow?: (e: unknown) => boolean;
  /** The checks to run (default: the whole suite). */
  checks?: readonly SmokeCheck[];
}

export interface SmokeHooks {
  /** Once the number of checks is known (after the device opened). */
  onPlan?(total: number): void;
  /** After each check, with the report as it stands (complete: false until the end). */
  onResult?(result: CheckResult, report: NodeReport): void;
}

export const DEFAULT_BUFFER_BYTES = 8 * 1024 * 1024;

function errorDiagnostics(e: unknown): Record<string, DiagValue> {
  const d: Record<string, DiagValue> = {};
  if (typeof e !== 'object' || e === null) return d;
  const err = e as { name?: unknown; code?: unknown; errno?: unknown; syscall?: unknown; hint?: unknown };
  if (typeof err.name === 'string') d.error = err.name;
  if (typeof err.code === 'string') d.code = err.code;
  if (typeof err.errno === 'number') d.errno = err.errno;
  if (typeof err.syscall === 'string') d.syscall = err.syscall;
  if (typeof err.hint === 'string') d.hint = err.hint;
  return d;
}

function gpuSummary(g: Gpu): NodeReport['gpus'][number] {
  return { gpuId: g.gpuId, name: g.name, gfxTarget: g.gfxTarget, coherent: g.coherent };
}

export async function runSmoke(options: SmokeOptions, hooks: SmokeHooks = {}): Promise<NodeReport> {
  const startedWall = performance.now();
  const budgetMs = options.budgetSeconds === undefined ? Infinity : options.budgetSeconds * 1000;
  const report: NodeReport = {
    format: NODE_REPORT_FORMAT,
    version: NODE_REPORT_VERSION,
    kind: 'smoke',
    host: options.host,
    startedAt: new Date().toISOString(),
    complete: false,
    tool: { name: 'kfd-svm', version: options.toolVersion },
    backend: options.backend ?? 'auto',
    gpus: [],
    checks: [],
    bandwidth: [],
    ok: false,
  };
  if (options.profile !== undefined) report.profile = options.profile;
  if (options.slurm) report.slurm = options.slurm;

  const record = (r: CheckResult): void => {
    report.checks.push(r);
    hooks.onResult?.(r, report);
  };

  // 1. The device opens (the kernel, or the simulator with the reason for falling back).
  const t0 = performance.now();
  let device: Device;
  try {
    device = options.openDevice
      ? await options.openDevice()
      : await open({
          ...(options.backend !== undefined ? { backend: options.backend } : {}),
          ...(options.profile !== undefined ? { profile: options.profile } : {}),
        });
  } catch (e) {
    if (options.rethrow?.(e)) throw e;
    const checks = options.checks ?? SMOKE_CHECKS;
    hooks.onPlan?.(1 + checks.length);
    record({
      id: 'device-open',
      name: 'the device opens',
      status: 'fail',
      durationMs: performance.now() - t0,
      message: e instanceof Error ? e.message : String(e),
      diagnostics: errorDiagnostics(e),
    });
    for (const c of checks) record({ id: c.id, name: c.title(undefined), status: 'skip', durationMs: 0, message: 'the device did not open' });
    return finish(report);
  }

  try {
    const gpus: Gpu[] = options.selectGpus ? options.selectGpus(device.gpus) : [...device.gpus]; // a bad --gpu throws; finally closes
    report.backend = device.backend;
    // A profile describes the simulator's machine; the kernel's machine is the real one.
    if (device.backend !== 'sim') delete report.profile;
    if (device.fallbackReason !== undefined) report.fallbackReason = device.fallbackReason;
    report.kfdVersion = { major: device.version.major, minor: device.version.minor };
    report.gpus = gpus.map(gpuSummary);
    try {
      report.xnack = device.xnack;
    } catch {
      // The versions check reports it.
    }

    const checks = options.checks ?? SMOKE_CHECKS;
    const plan: { check: SmokeCheck; gpu: Gpu | undefined }[] = [];
    for (const check of checks) {
      if (check.perGpu) for (const gpu of gpus) plan.push({ check, gpu });
      else plan.push({ check, gpu: undefined });
    }
    // A machine without a GPU still runs every once-per-node check; per-GPU checks have nothing to run on.
    const noGpuChecks = checks.filter((c) => c.perGpu && gpus.length === 0);
    hooks.onPlan?.(1 + plan.length + noGpuChecks.length);

    const fallback = device.fallbackReason ? ` (simulator: ${device.fallbackReason})` : '';
    record({
      id: 'device-open',
      name: `the device opens: ${device.backend}${device.backend === 'sim' ? '' : ` KFD ${device.version.major}.${device.version.minor}`}${fallback}`,
      status: 'pass',
      durationMs: performance.now() - t0,
      diagnostics: { backend: device.backend, gpus: device.gpus.length },
    });

    const env: SmokeEnv = {
      device,
      gpus,
      clock: deviceClock(device),
      bufferBytes: options.bufferBytes ?? DEFAULT_BUFFER_BYTES,
      eventWaitMs: options.eventWaitMs ?? 2000,
    };

    for (const { check, gpu } of plan) {
      const name = check.title(gpu);
      const base = { id: check.id, name, ...(gpu ? { gpuId: gpu.gpuId } : {}) };
      const used = performance.now() - startedWall;
      if (used > budgetMs) {
        record({ ...base, status: 'skip', durationMs: 0, message: `time budget of ${options.budgetSeconds} s used up` });
        continue;
      }
      const diagnostics: Record<string, DiagValue> = {};
      const samples: BandwidthSample[] = [];
      const start = performance.now();
      try {
        await check.run(env, gpu, { diag: (k, v) => void (diagnostics[k] = v), bandwidth: (s) => void samples.push(s) });
        report.bandwidth.push(...samples);
        record({ ...base, status: 'pass', durationMs: performance.now() - start, ...(Object.keys(diagnostics).length ? { diagnostics } : {}) });
      } catch (e) {
        const durationMs = performance.now() - start;
        if (e instanceof CheckSkip) {
          record({ ...base, status: 'skip', durationMs, message: e.message });
        } else if (e instanceof CheckFailure) {
          record({ ...base, status: 'fail', durationMs, message: e.message, diagnostics: { ...diagnostics, ...e.diagnostics } });
        } else {
          // An unexpected error from the API (an SvmError with its errno), or a bug: a failure, not a crash.
          record({
            ...base,
            status: 'fail',
            durationMs,
            message: e instanceof Error ? e.message : String(e),
            diagnostics: { ...diagnostics, ...errorDiagnostics(e) },
          });
        }
      }
    }
    for (const c of noGpuChecks) {
      record({ id: c.id, name: c.title(undefined), status: 'skip', durationMs: 0, message: 'no GPU to run on' });
    }
  } finally {
    await device.close();
  }
  return finish(report);
}

function finish(report: NodeReport): NodeReport {
  report.finishedAt = new Date().toISOString();
  report.complete = true;
  report.ok = !report.checks.some((c) => c.status === 'fail');
  return report;
}
