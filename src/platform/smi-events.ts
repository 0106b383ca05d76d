/**
 * SMI event lines, as drivers/gpu/drm/amd/amdkfd/kfd_smi_events.c (Linux 6.12) writes them to an SMI
 * event fd: kfd_smi_event_add() prints `"%x "` (the event id, in hex) and then the KFD_EVENT_FMT_* body
 * from include/uapi/linux/kfd_ioctl.h, each ending in '\n':
 *
 *   GPU pre/post reset  "%x %s"                               reset_seq_num, reset cause
 *   thermal throttle    "%llx:%llx"                           throttle bitmask, throttling counter
 *   VM fault            "%x:%s"                               pid (hex!), task name
 *   page fault start    "%lld -%d @%lx(%x) %c"                ns, pid, page, gpu_id, R|W
 *   page fault end      "%lld -%d @%lx(%x) %c"                ns, pid, page, gpu_id, M|U
 *   migrate start       "%lld -%d @%lx(%lx) %x->%x %x:%x %d"  ns, pid, start page, pages, from, to,
 *                                                             prefetch_loc, preferred_loc, trigger
 *   migrate end         "%lld -%d @%lx(%lx) %x->%x %d"
 *   queue eviction      "%lld -%d %x %d"                      ns, pid, gpu_id, trigger
 *   queue restore       "%lld -%d %x %c"                      ns, pid, gpu_id, '0' | 'R' (rescheduled)
 *   unmap from GPU      "%lld -%d @%lx(%lx) %x %d"            ns, pid, start page, pages, gpu_id, trigger
 *
 * Addresses are page numbers (the callers shift by PAGE_SHIFT), gpu_ids are KFD node ids with 0 meaning
 * system memory, ns is ktime_get_boottime_ns() (the page-fault start carries the fault's timestamp).
 * A line this parser does not know (a newer event id, a changed body) becomes `{ kind: 'unknown', raw }`:
 * a newer kernel never breaks a reader. formatSmiEvent writes the kernel's exact line for a record, so
 * parse(format(x)) round-trips.
 */
import { ParseError } from './errors.js';

export const SMI_EVENT_IDS = {
  vmfault: 1,
  'thermal-throttle': 2,
  'gpu-pre-reset': 3,
  'gpu-post-reset': 4,
  'migrate-start': 5,
  'migrate-end': 6,
  'page-fault-start': 7,
  'page-fault-end': 8,
  'queue-eviction': 9,
  'queue-restore': 10,
  'unmap-from-gpu': 11,
} as const;
export type SmiEventKind = keyof typeof SMI_EVENT_IDS;

/** enum KFD_MIGRATE_TRIGGERS, by index. */
export const MIGRATE_TRIGGERS = ['prefetch', 'pagefault-gpu', 'pagefault-cpu', 'ttm-eviction'] as const;
export type MigrateTriggerName = (typeof MIGRATE_TRIGGERS)[number];
/** enum KFD_QUEUE_EVICTION_TRIGGERS, by index. */
export const QUEUE_EVICTION_TRIGGERS = ['svm', 'userptr', 'ttm', 'suspend', 'criu-checkpoint', 'criu-restore'] as const;
export type QueueEvictionTriggerName = (typeof QUEUE_EVICTION_TRIGGERS)[number];
/** enum KFD_SVM_UNMAP_TRIGGERS, by index. */
export const UNMAP_TRIGGERS = ['mmu-notify', 'mmu-notify-migrate', 'unmap-from-cpu'] as const;
export type UnmapTriggerName = (typeof UNMAP_TRIGGERS)[number];

interface ProcessEventBase {
  /** The line as read, without its '\n'. */
  raw: string;
  /** ktime_get_boottime_ns() at the event (the fault's own timestamp for page-fault-start). */
  timestampNs: bigint;
  /** The process (its lead thread's pid). */
  pid: number;
}

export interface MigrateStartEvent extends ProcessEventBase {
  kind: 'migrate-start';
  startPage: bigint;
  pages: bigint;
  /** gpu_id the pages leave, 0 = system memory. */
  from: number;
  /** gpu_id the pages go to, 0 = system memory. */
  to: number;
  /** The range's prefetch and preferred locations (gpu_id, 0 = system, 0xffffffff = undefined). */
  prefetchLoc: number;
  preferredLoc: number;
  trigger: number;
  triggerName: MigrateTriggerName | undefined;
}

export interface MigrateEndEvent extends ProcessEventBase {
  kind: 'migrate-end';
  startPage: bigint;
  pages: bigint;
  from: number;
  to: number;
  trigger: number;
  triggerName: MigrateTriggerName | undefined;
}

export interface PageFaultStartEvent extends ProcessEventBase {
  kind: 'page-fault-start';
  /** The faulting page number. */
  page: bigint;
  gpuId: number;
  write: boolean;
}

export interface PageFaultEndEvent extends ProcessEventBase {
  kind: 'page-fault-end';
  page: bigint;
  gpuId: number;
  /** 'M': the fault migrated pages; 'U': it only updated the GPU mapping. */
  migrated: boolean;
}

export interface QueueEvictionEvent extends ProcessEventBase {
  kind: 'queue-eviction';
  gpuId: number;
  trigger: number;
  triggerName: QueueEvictionTriggerName | undefined;
}

export interface QueueRestoreEvent extends ProcessEventBase {
  kind: 'queue-restore';
  gpuId: number;
  /** 'R': the restore was rescheduled (kfd_smi_event_queue_restore_rescheduled); '0' otherwise. */
  rescheduled: boolean;
}

export interface UnmapFromGpuEvent extends ProcessEventBase {
  kind: 'unmap-from-gpu';
  startPage: bigint;
  pages: bigint;
  gpuId: number;
  trigger: number;
  triggerName: UnmapTriggerName | undefined;
}

export interface VmFaultEvent {
  kind: 'vmfault';
  raw: string;
  /** The faulting thread's pid (printed in hex by the kernel). */
  pid: number;
  taskName: string;
}

export interface ThermalThrottleEvent {
  kind: 'thermal-throttle';
  raw: string;
  throttleBitmask: bigint;
  throttleCounter: bigint;
}

export interface GpuResetEvent {
  kind: 'gpu-pre-reset' | 'gpu-post-reset';
  raw: string;
  resetSeqNum: number;
  /** amdgpu_reset_get_desc(); empty when the reset had no context. */
  reason: string;
}

export interface UnknownSmiEvent {
  kind: 'unknown';
  raw: string;
  /** The leading hex event id, when the line has one. */
  eventId: number | undefined;
}

export type SmiEventRecord =
  | MigrateStartEvent
  | MigrateEndEvent
  | PageFaultStartEvent
  | PageFaultEndEvent
  | QueueEvictionEvent
  | QueueRestoreEvent
  | UnmapFromGpuEvent
  | VmFaultEvent
  | ThermalThrottleEvent
  | GpuResetEvent
  | UnknownSmiEvent;

// Field patterns in the canonical form printf writes (no leading zeros, lowercase hex), so a line that
// parses is exactly the line the kernel would format from the parsed values.
const DEC64 = '(-?(?:0|[1-9][0-9]{0,18}))'; // %lld
const DEC32 = '(-?(?:0|[1-9][0-9]{0,9}))'; // %d
const HEX64 = '(0|[1-9a-f][0-9a-f]{0,15})'; // %lx / %llx
const HEX32 = '(0|[1-9a-f][0-9a-f]{0,7})'; // %x
const HEAD = `${DEC64} -${DEC32}`;

const RE = {
  migrateStart: new RegExp(`^${HEAD} @${HEX64}\\(${HEX64}\\) ${HEX32}->${HEX32} ${HEX32}:${HEX32} ${DEC32}$`),
  migrateEnd: new RegExp(`^${HEAD} @${HEX64}\\(${HEX64}\\) ${HEX32}->${HEX32} ${DEC32}$`),
  pageFault: new RegExp(`^${HEAD} @${HEX64}\\(${HEX32}\\) ([A-Z0-9])$`),
  queueEviction: new RegExp(`^${HEAD} ${HEX32} ${DEC32}$`),
  queueRestore: new RegExp(`^${HEAD} ${HEX32} ([A-Z0-9])$`),
  unmap: new RegExp(`^${HEAD} @${HEX64}\\(${HEX64}\\) ${HEX32} ${DEC32}$`),
  vmfault: new RegExp(`^${HEX32}:(.*)$`, 's'),
  thermal: new RegExp(`^${HEX64}:${HEX64}$`),
  reset: new RegExp(`^${HEX32} (.*)$`, 's'),
  head: /^(0|[1-9a-f][0-9a-f]{0,7}) (.*)$/s,
};

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

function dec64(s: string): bigint | undefined {
  const v = BigInt(s);
  return v < I64_MIN || v > I64_MAX || s === '-0' ? undefined : v;
}
function dec32(s: string): number | undefined {
  const v = Number(s);
  return v < I32_MIN || v > I32_MAX || s === '-0' ? undefined : v;
}
const hex64 = (s: string): bigint => BigInt(`0x${s}`);
const hex32 = (s: string): number => parseInt(s, 16);

function unknown(raw: string, eventId: number | undefined): UnknownSmiEvent {
  return { kind: 'unknown', raw, eventId };
}

function head(m: RegExpExecArray): { timestampNs: bigint; pid: number } | undefined {
  const ns = dec64(m[1]!);
  const pid = dec32(m[2]!);
  return ns === undefined || pid === undefined ? undefined : { timestampNs: ns, pid };
}

/**
 * Parses one event line (with or without its '\n'). Never throws for a string: what it cannot read is
 * `{ kind: 'unknown', raw }`.
 */
export function parseSmiLine(line: string): SmiEventRecord {
  if (typeof line !== 'string') throw new ParseError('smi', 'input is not a string');
  const raw = line.endsWith('\n') ? line.slice(0, -1) : line;
  const h = RE.head.exec(raw);
  if (!h) return unknown(raw, undefined);
  const id = hex32(h[1]!);
  const body = h[2]!;
  switch (id) {
    case SMI_EVENT_IDS['migrate-start']: {
      const m = RE.migrateStart.exec(body);
      const base = m && head(m);
      const trigger = m && dec32(m[9]!);
      if (!m || !base || trigger === undefined || trigger === null) break;
      return { kind: 'migrate-start', raw, ...base, startPage: hex64(m[3]!), pages: hex64(m[4]!), from: hex32(m[5]!),
        to: hex32(m[6]!), prefetchLoc: hex32(m[7]!), preferredLoc: hex32(m[8]!), trigger,
        triggerName: MIGRATE_TRIGGERS[trigger] };
    }
    case SMI_EVENT_IDS['migrate-end']: {
      const m = RE.migrateEnd.exec(body);
      const base = m && head(m);
      const trigger = m && dec32(m[7]!);
      if (!m || !base || trigger === undefined || trigger === null) break;
      return { kind: 'migrate-end', raw, ...base, startPage: hex64(m[3]!), pages: hex64(m[4]!), from: hex32(m[5]!),
        to: hex32(m[6]!), trigger, triggerName: MIGRATE_TRIGGERS[trigger] };
    }
    case SMI_EVENT_IDS['page-fault-start']:
    case SMI_EVENT_IDS['page-fault-end']: {
      const m = RE.pageFault.exec(body);
      const base = m && head(m);
      if (!m || !base) break;
      const c = m[5]!;
      const common = { raw, ...base, page: hex64(m[3]!), gpuId: hex32(m[4]!) };
      if (id === SMI_EVENT_IDS['page-fault-start'] && (c === 'R' || c === 'W')) {
        return { kind: 'page-fault-start', ...common, write: c === 'W' };
      }
      if (id === SMI_EVENT_IDS['page-fault-end'] && (c === 'M' || c === 'U')) {
        return { kind: 'page-fault-end', ...common, migrated: c === 'M' };
      }
      break;
    }
    case SMI_EVENT_IDS['queue-eviction']: {
      const m = RE.queueEviction.exec(body);
      const base = m && head(m);
      const trigger = m && dec32(m[4]!);
      if (!m || !base || trigger === undefined || trigger === null) break;
      return { kind: 'queue-eviction', raw, ...base, gpuId: hex32(m[3]!), trigger,
        triggerName: QUEUE_EVICTION_TRIGGERS[trigger] };
    }
    case SMI_EVENT_IDS['queue-restore']: {
      const m = RE.queueRestore.exec(body);
      const base = m && head(m);
      if (!m || !base || (m[4] !== '0' && m[4] !== 'R')) break;
      return { kind: 'queue-restore', raw, ...base, gpuId: hex32(m[3]!), rescheduled: m[4] === 'R' };
    }
    case SMI_EVENT_IDS['unmap-from-gpu']: {
      const m = RE.unmap.exec(body);
      const base = m && head(m);
      const trigger = m && dec32(m[6]!);
      if (!m || !base || trigger === undefined || trigger === null) break;
      return { kind: 'unmap-from-gpu', raw, ...base, startPage: hex64(m[3]!), pages: hex64(m[4]!),
        gpuId: hex32(m[5]!), trigger, triggerName: UNMAP_TRIGGERS[trigger] };
    }
    case SMI_EVENT_IDS.vmfault: {
      const m = RE.vmfault.exec(body);
      if (!m) break;
      return { kind: 'vmfault', raw, pid: hex32(m[1]!), taskName: m[2]! };
    }
    case SMI_EVENT_IDS['thermal-throttle']: {
      const m = RE.thermal.exec(body);
      if (!m) break;
      return { kind: 'thermal-throttle', raw, throttleBitmask: hex64(m[1]!), throttleCounter: hex64(m[2]!) };
    }
    case SMI_EVENT_IDS['gpu-pre-reset']:
    case SMI_EVENT_IDS['gpu-post-reset']: {
      const m = RE.reset.exec(body);
      if (!m) break;
      return { kind: id === SMI_EVENT_IDS['gpu-pre-reset'] ? 'gpu-pre-reset' : 'gpu-post-reset', raw,
        resetSeqNum: hex32(m[1]!), reason: m[2]! };
    }
    default:
      break;
  }
  return unknown(raw, id);
}

/**
 * Parses the text of one or more reads: lines separated by '\n'. Empty lines are skipped. A trailing
 * line without '\n' is parsed too (a caller streaming partial reads should cut at the last '\n' first).
 */
export function parseSmiEvents(text: string): SmiEventRecord[] {
  if (typeof text !== 'string') throw new ParseError('smi', 'input is not a string');
  const out: SmiEventRecord[] = [];
  for (const line of text.split('\n')) if (line !== '') out.push(parseSmiLine(line));
  return out;
}

const x = (v: number | bigint): string => v.toString(16);

/**
 * The kernel's line for a record: `"%x "` + the KFD_EVENT_FMT_* body + '\n'. An 'unknown' record is
 * written back as its raw text. (The kernel formats into a 96-byte buffer; realistic values stay far
 * below that, and this function does not cut.)
 */
export function formatSmiEvent(r: SmiEventRecord): string {
  const id = (k: SmiEventKind): string => `${x(SMI_EVENT_IDS[k])} `;
  switch (r.kind) {
    case 'migrate-start':
      return `${id(r.kind)}${r.timestampNs} -${r.pid} @${x(r.startPage)}(${x(r.pages)}) ${x(r.from)}->${x(r.to)} ` +
        `${x(r.prefetchLoc)}:${x(r.preferredLoc)} ${r.trigger}\n`;
    case 'migrate-end':
      return `${id(r.kind)}${r.timestampNs} -${r.pid} @${x(r.startPage)}(${x(r.pages)}) ${x(r.from)}->${x(r.to)} ` +
        `${r.trigger}\n`;
    case 'page-fault-start':
      return `${id(r.kind)}${r.timestampNs} -${r.pid} @${x(r.page)}(${x(r.gpuId)}) ${r.write ? 'W' : 'R'}\n`;
    case 'page-fault-end':
      return `${id(r.kind)}${r.timestampNs} -${r.pid} @${x(r.page)}(${x(r.gpuId)}) ${r.migrated ? 'M' : 'U'}\n`;
    case 'queue-eviction':
      return `${id(r.kind)}${r.timestampNs} -${r.pid} ${x(r.gpuId)} ${r.trigger}\n`;
    case 'queue-restore':
      return `${id(r.kind)}${r.timestampNs} -${r.pid} ${x(r.gpuId)} ${r.rescheduled ? 'R' : '0'}\n`;
    case 'unmap-from-gpu':
      return `${id(r.kind)}${r.timestampNs} -${r.pid} @${x(r.startPage)}(${x(r.pages)}) ${x(r.gpuId)} ${r.trigger}\n`;
    case 'vmfault':
      return `${id(r.kind)}${x(r.pid)}:${r.taskName}\n`;
    case 'thermal-throttle':
      return `${id(r.kind)}${x(r.throttleBitmask)}:${x(r.throttleCounter)}\n`;
    case 'gpu-pre-reset':
    case 'gpu-post-reset':
      return `${id(r.kind)}${x(r.resetSeqNum)} ${r.reason}\n`;
    case 'unknown':
      return `${r.raw}\n`;
  }
}

/** Builds a record from its fields (raw is filled in from the kernel's format), for emitters. */
export function smiRecord<T extends Exclude<SmiEventRecord, UnknownSmiEvent>>(fields: Omit<T, 'raw'>): T {
  const partial = { ...fields, raw: '' } as T;
  partial.raw = formatSmiEvent(partial).slice(0, -1);
  return partial;
}
