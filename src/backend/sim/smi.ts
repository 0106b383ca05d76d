/**
 * SMI events as kfd_smi_events.c writes them: one client per open fd, attached to one GPU node, with its
 * own 1 KiB kfifo; each event is formatted once ("%x " + KFD_EVENT_FMT_* body, at most
 * KFD_SMI_EVENT_MSG_SIZE bytes with the NUL) and copied to every client whose mask has it.
 */
import { Errno, SmiEvent } from '../abi.js';
import type { SmiEventSource } from '../contract.js';
import { KernelError } from '../errors.js';

/** kfd_smi_events.c: MAX_KFIFO_SIZE. */
export const SMI_FIFO_BYTES = 1024;
/** kfd_ioctl.h: KFD_SMI_EVENT_MSG_SIZE (the snprintf buffer, NUL included). */
export const SMI_MSG_SIZE = 96;

const hex = (v: number | bigint): string => v.toString(16);

/** The KFD_EVENT_FMT_* bodies (include/uapi/linux/kfd_ioctl.h), each ending in '\n'. */
export const smiFormat = {
  /** "%lld -%d @%lx(%lx) %x->%x %x:%x %d\n" */
  migrateStart: (ns: bigint, pid: number, start: number, pages: number, from: number, to: number,
    prefetchLoc: number, preferredLoc: number, trigger: number): string =>
    `${ns} -${pid} @${hex(start)}(${hex(pages)}) ${hex(from)}->${hex(to)} ${hex(prefetchLoc)}:${hex(preferredLoc)} ${trigger}\n`,
  /** "%lld -%d @%lx(%lx) %x->%x %d\n" */
  migrateEnd: (ns: bigint, pid: number, start: number, pages: number, from: number, to: number, trigger: number): string =>
    `${ns} -${pid} @${hex(start)}(${hex(pages)}) ${hex(from)}->${hex(to)} ${trigger}\n`,
  /** "%lld -%d @%lx(%x) %c\n" with R or W */
  pageFaultStart: (ns: bigint, pid: number, addr: number, node: number, write: boolean): string =>
    `${ns} -${pid} @${hex(addr)}(${hex(node)}) ${write ? 'W' : 'R'}\n`,
  /** "%lld -%d @%lx(%x) %c\n" with M (migrated) or U (updated) */
  pageFaultEnd: (ns: bigint, pid: number, addr: number, node: number, migrated: boolean): string =>
    `${ns} -${pid} @${hex(addr)}(${hex(node)}) ${migrated ? 'M' : 'U'}\n`,
  /** "%lld -%d %x %d\n" */
  queueEviction: (ns: bigint, pid: number, node: number, trigger: number): string =>
    `${ns} -${pid} ${hex(node)} ${trigger}\n`,
  /** "%lld -%d %x %c\n": '0' normally, 'R' when the restore was rescheduled */
  queueRestore: (ns: bigint, pid: number, node: number, rescheduled: boolean): string =>
    `${ns} -${pid} ${hex(node)} ${rescheduled ? 'R' : '0'}\n`,
  /** "%lld -%d @%lx(%lx) %x %d\n" */
  unmapFromGpu: (ns: bigint, pid: number, addr: number, pages: number, node: number, trigger: number): string =>
    `${ns} -${pid} @${hex(addr)}(${hex(pages)}) ${hex(node)} ${trigger}\n`,
  /** "%x:%s\n" */
  vmFault: (pid: number, taskName: string): string => `${hex(pid)}:${taskName}\n`,
};

/** One event line as kfd_smi_event_add builds it: "%x " then the body, cut to the 96-byte buffer. */
export function smiLine(event: number, body: string): string {
  const line = `${hex(event)} ${body}`;
  // snprintf into fifo_in[KFD_SMI_EVENT_MSG_SIZE]: at most 95 characters survive.
  return line.length < SMI_MSG_SIZE ? line : line.slice(0, SMI_MSG_SIZE - 1);
}

const ALL_PROCESS_BIT = 1n << BigInt(SmiEvent.ALL_PROCESS - 1);
const U64_MAX = (1n << 64n) - 1n;

class SmiClient implements SmiEventSource {
  private fifo = '';
  private mask = 0n;
  private closed = false;
  private waiter: ((chunk: string) => void) | undefined;

  constructor(
    private readonly owner: SmiHub,
    readonly gpuId: number,
    /** client->pid = current->tgid at open. */
    readonly pid: number,
    /** client->suser = capable(CAP_SYS_ADMIN) at open. */
    readonly suser: boolean,
  ) {}

  /** kfd_smi_ev_enabled: another process's events need CAP_SYS_ADMIN and the ALL_PROCESS bit. */
  wants(pid: number, event: number): boolean {
    if (this.closed) return false;
    if (pid && this.pid !== pid && !(this.suser && (this.mask & ALL_PROCESS_BIT) !== 0n)) return false;
    return (this.mask & (1n << BigInt(event - 1))) !== 0n;
  }

  /** add_event_to_kfifo: an event that does not fit the fifo is dropped ("no space left"). */
  push(line: string): void {
    if (SMI_FIFO_BYTES - this.fifo.length < line.length) return;
    this.fifo += line;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(this.take());
    }
  }

  /** kfd_smi_ev_read: copies out at most MAX_KFIFO_SIZE bytes of what is queued. */
  private take(): string {
    const chunk = this.fifo.slice(0, SMI_FIFO_BYTES);
    this.fifo = this.fifo.slice(chunk.length);
    return chunk;
  }

  read(): Promise<string> {
    if (this.closed) return Promise.resolve('');
    if (this.waiter) return Promise.reject(new KernelError(Errno.EBUSY, 'read', 'kfd_smi_ev', 'a read is already pending'));
    if (this.fifo.length > 0) return Promise.resolve(this.take());
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** kfd_smi_ev_write: the mask is stored as given; ALL_PROCESS without root is accepted and has no effect. */
  setMask(mask: bigint): void {
    if (typeof mask !== 'bigint' || mask < 0n || mask > U64_MAX) throw new RangeError(`SMI mask must be a u64 bigint, got ${String(mask)}`);
    if (this.closed) throw new KernelError(Errno.EBADF, 'write', 'kfd_smi_ev');
    this.mask = mask;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.detach(this);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w('');
    }
  }
}

/** The smi_clients lists of every GPU node. */
export class SmiHub {
  private readonly clients = new Map<number, Set<SmiClient>>();

  open(gpuId: number, pid: number, suser: boolean, mask: bigint): SmiEventSource {
    const c = new SmiClient(this, gpuId, pid, suser);
    c.setMask(mask);
    let set = this.clients.get(gpuId);
    if (!set) this.clients.set(gpuId, (set = new Set()));
    set.add(c);
    return c;
  }

  detach(c: SmiClient): void {
    this.clients.get(c.gpuId)?.delete(c);
  }

  /** True when some open client of the node could take the event (saves formatting otherwise). */
  listening(gpuId: number): boolean {
    return (this.clients.get(gpuId)?.size ?? 0) > 0;
  }

  /** kfd_smi_event_add(pid, dev, event, ...). */
  emit(gpuId: number, pid: number, event: number, body: string): void {
    const set = this.clients.get(gpuId);
    if (!set || set.size === 0) return;
    const line = smiLine(event, body);
    for (const c of set) if (c.wants(pid, event)) c.push(line);
  }

  closeAll(): void {
    for (const set of this.clients.values()) for (const c of [...set]) c.close();
  }
}
