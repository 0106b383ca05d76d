/**
 * Reading the fields of a migrate event that the checks compare: the kernel's migrate start/end lines
 * carry start and size in pages, from → to as gpu_ids (0 = system memory) and the trigger
 * (KFD_EVENT_FMT_MIGRATE_START/END in kfd_ioctl.h).
 */
import type { SvmEvent } from '../index.js';

export interface MigrateView {
  kind: 'migrate-start' | 'migrate-end';
  /** First page number (address >> 12). */
  startPage: number;
  pages: number;
  from: number;
  to: number;
  /** KFD_MIGRATE_TRIGGER_*: 0 prefetch, 1 GPU page fault, 2 CPU page fault, 3 TTM eviction. */
  trigger: number;
}

/** The migrate fields of an event, or undefined for any other kind. */
export function migrateView(e: SvmEvent): MigrateView | undefined {
  if (e.kind !== 'migrate-start' && e.kind !== 'migrate-end') return undefined;
  return { kind: e.kind, startPage: Number(e.startPage), pages: Number(e.pages), from: e.from, to: e.to, trigger: e.trigger };
}

/** Migrate events of one direction covering [firstPage, firstPage + pages) in total. */
export function coveredPages(events: readonly SvmEvent[], kind: MigrateView['kind'], from: number, to: number, firstPage: number, pages: number): number {
  let covered = 0;
  for (const e of events) {
    const m = migrateView(e);
    if (!m || m.kind !== kind || m.from !== from || m.to !== to) continue;
    const a = Math.max(m.startPage, firstPage);
    const b = Math.min(m.startPage + m.pages, firstPage + pages);
    if (b > a) covered += b - a;
  }
  return covered;
}
