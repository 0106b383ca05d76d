/**
 * `kfd-svm events`: SMI events as they happen, as human lines or JSON lines, until Ctrl-C / SIGTERM
 * (a clean stop: exit 0, no stack trace), --count events, or --duration seconds.
 *
 * The kernel delivers a process's own events, and every process's only to root with the ALL_PROCESS bit
 * (kfd_smi_events.c: kfd_smi_ev_enabled). The simulator is in this process, so on the sim a small demo
 * workload (prefetch round trips and CPU touches) runs by default so there is something to see.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Device, EventKind, Gpu, SvmEvent } from '../../index.js';
import { UsageError } from '../errors.js';
import { line } from '../io.js';
import { parseGpuList, parseNameList, parsePositiveInt, parseSeconds, selectGpus, type GpuSelector } from '../options.js';
import type { CommandContext } from './context.js';
import { globalOptions, openDevice } from './global.js';

interface EventsCliOptions {
  json?: boolean;
  gpu?: GpuSelector[];
  kinds?: string[];
  count?: number;
  duration?: number;
  demo?: boolean;
  allProcesses?: boolean;
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
const loc = (id: number): string => (id === 0 ? 'system' : `gpu ${id}`);

/** One event as a line a person reads. */
export function formatEventLine(e: SvmEvent, now: Date = new Date()): string {
  const time = now.toISOString().slice(11, 23);
  const head = `${time} gpu ${e.gpu.gpuId} ${e.kind}`;
  switch (e.kind) {
    case 'migrate-start':
    case 'migrate-end':
      return `${head} pid ${e.pid} ${hex(e.startPage * 4096n)} +${e.pages} pages ${loc(e.from)} → ${loc(e.to)} trigger ${e.triggerName ?? e.trigger}`;
    case 'page-fault-start':
      return `${head} pid ${e.pid} ${hex(e.page * 4096n)} on gpu ${e.gpuId} ${e.write ? 'write' : 'read'}`;
    case 'page-fault-end':
      return `${head} pid ${e.pid} ${hex(e.page * 4096n)} on gpu ${e.gpuId} ${e.migrated ? 'migrated' : 'mapping updated'}`;
    case 'queue-eviction':
      return `${head} pid ${e.pid} gpu ${e.gpuId} trigger ${e.triggerName ?? e.trigger}`;
    case 'queue-restore':
      return `${head} pid ${e.pid} gpu ${e.gpuId}${e.rescheduled ? ' (rescheduled)' : ''}`;
    case 'unmap-from-gpu':
      return `${head} pid ${e.pid} ${hex(e.startPage * 4096n)} +${e.pages} pages gpu ${e.gpuId} trigger ${e.triggerName ?? e.trigger}`;
    case 'vmfault':
      return `${head} pid ${e.pid} task ${e.taskName}`;
    case 'thermal-throttle':
      return `${head} bitmask ${hex(e.throttleBitmask)} count ${e.throttleCounter}`;
    case 'gpu-pre-reset':
    case 'gpu-post-reset':
      return `${head} seq ${e.resetSeqNum}${e.reason ? ` ${e.reason}` : ''}`;
    default:
      return `${head} ${e.raw}`;
  }
}

/** One event as a JSON line: bigints as decimal strings, the GPU by gpu_id. */
export function eventJson(e: SvmEvent): string {
  const { gpu, ...rest } = e;
  return JSON.stringify({ gpuId: gpu.gpuId, ...rest }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** The longest delay setTimeout holds (2^31-1 ms, about 24.8 days); a longer one fires at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Aborts `stop` after `ms`, re-arming for delays setTimeout cannot hold in one go. Returns the cancel. */
export function abortAfter(ms: number, stop: AbortController): () => void {
  let t: NodeJS.Timeout | undefined;
  const arm = (left: number): void => {
    t = setTimeout(() => (left > MAX_TIMEOUT_MS ? arm(left - MAX_TIMEOUT_MS) : stop.abort()), Math.min(left, MAX_TIMEOUT_MS));
  };
  arm(ms);
  return () => clearTimeout(t);
}

const CAP_SYS_ADMIN = 21n;

/** Whether this process holds CAP_SYS_ADMIN, the capability the kernel checks (effective set, /proc/self/status). */
export function hasCapSysAdmin(status: () => string = () => readFileSync('/proc/self/status', 'utf8')): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(status());
    if (m?.[1]) return ((BigInt(`0x${m[1]}`) >> CAP_SYS_ADMIN) & 1n) === 1n;
  } catch {
    // No /proc: judge by the user id below.
  }
  return process.geteuid?.() === 0;
}

/** Prefetch round trips and CPU touches on each GPU until aborted: events to look at on the sim. */
async function demoWorkload(device: Device, gpus: readonly Gpu[], signal: AbortSignal): Promise<void> {
  const targets = gpus.filter((g) => g.svmCapable);
  if (targets.length === 0) return;
  const buf = await device.alloc(4 << 20, { align2M: true });
  try {
    while (!signal.aborted) {
      for (const g of targets) {
        if (signal.aborted) break;
        await buf.prefetch(g);
        await buf.access({ offset: 0, length: 2 << 20 }, 'read');
        await buf.prefetch('system');
        await sleep(200, signal);
      }
    }
  } finally {
    buf.free();
  }
}

export function registerEvents(program: Command, ctx: CommandContext): void {
  program
    .command('events')
    .summary('stream SMI events (migrations, page faults, evictions) live')
    .description(
      'Stream SMI events live as lines (or JSON lines with --json) until Ctrl-C, --count or --duration. ' +
        "The kernel shows a process its own events (every process's only to root). On the simulator a demo " +
        'workload runs by default so events flow (--no-demo turns it off); on hardware --demo runs it too.',
    )
    .option('--json', 'one JSON object per line')
    .option('--gpu <ids>', 'GPUs to listen on: gpu_ids or indexes, comma-separated (default: all)', parseGpuList)
    .option(
      '--kinds <list>',
      'event kinds, comma-separated (default: all): vmfault, thermal-throttle, gpu-pre-reset, gpu-post-reset, migrate-start, migrate-end, page-fault-start, page-fault-end, queue-eviction, queue-restore, unmap-from-gpu',
      (v: string) => v.split(','),
    )
    .option('--count <n>', 'stop after n events', parsePositiveInt)
    .option('--duration <seconds>', 'stop after this many seconds', parseSeconds)
    .option('--all-processes', "every process's events, not only this one's (the kernel honours it only for root)")
    .option('--demo', 'run a small migration workload in this process (default on the simulator)')
    .option('--no-demo', 'do not run the demo workload')
    .action(async (opts: EventsCliOptions, cmd: Command) => {
      const { io } = ctx;
      // Checked against the API's own list (loaded with the API, not at parse time).
      const { EVENT_KINDS } = await import('../../index.js');
      let kinds: EventKind[] | undefined;
      if (opts.kinds) {
        try {
          kinds = parseNameList(EVENT_KINDS, 'event kind')(opts.kinds.join(',')) as EventKind[];
        } catch (e) {
          throw new UsageError(`--kinds: ${(e as Error).message}`);
        }
      }
      const device = await openDevice(globalOptions(cmd));
      const stop = new AbortController();
      const unsubscribe = io.onSignal(() => stop.abort());
      let cancelTimer: (() => void) | undefined;
      let keepAlive: NodeJS.Timeout | undefined;
      let n = 0;
      let demo: Promise<void> | undefined;
      try {
        const gpus = selectGpus(device.gpus, opts.gpu);
        if (gpus.length === 0) {
          line(io.stderr, 'kfd-svm: no GPU: there are no SMI events to listen to');
          return;
        }
        if (opts.allProcesses && !hasCapSysAdmin()) {
          // kfd_smi_ev_enabled: without CAP_SYS_ADMIN the kernel accepts the ALL_PROCESS bit and ignores it.
          line(io.stderr, "kfd-svm: --all-processes needs CAP_SYS_ADMIN (root): the kernel will deliver this process's events only");
        }
        const stream = device.events({
          gpus,
          ...(kinds ? { kinds } : {}),
          ...(opts.allProcesses ? { allProcesses: true } : {}),
          signal: stop.signal,
        });
        // Keep Node's event loop alive while waiting: a quiet event source (the sim with no workload) holds
        // no handle, and Node would otherwise exit mid-await (exit code 13).
        keepAlive = setInterval(() => undefined, 1 << 30);
        if (opts.duration !== undefined) cancelTimer = abortAfter(opts.duration * 1000, stop);
        const runDemo = opts.demo ?? device.backend === 'sim';
        if (io.stderr.isTTY) {
          line(io.stderr, `listening on ${gpus.length} GPU(s) (${device.backend}${runDemo ? ', demo workload running' : ''}); Ctrl-C to stop`);
        }
        if (runDemo) {
          demo = demoWorkload(device, gpus, stop.signal).catch((e: unknown) => {
            if (!stop.signal.aborted) line(io.stderr, `kfd-svm: demo workload stopped: ${e instanceof Error ? e.message : String(e)}`);
          });
        }
        for await (const e of stream) {
          io.stdout.write(`${opts.json ? eventJson(e) : formatEventLine(e)}\n`);
          n++;
          if (opts.count !== undefined && n >= opts.count) break;
        }
      } finally {
        stop.abort();
        cancelTimer?.();
        if (keepAlive) clearInterval(keepAlive);
        await demo;
        unsubscribe();
        await device.close();
      }
      if (io.stderr.isTTY) line(io.stderr, `stopped after ${n} event(s)`);
    });
}
