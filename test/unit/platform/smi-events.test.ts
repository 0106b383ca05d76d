import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../src/platform/errors.js';
import {
  formatSmiEvent,
  parseSmiEvents,
  parseSmiLine,
  smiRecord,
  type MigrateStartEvent,
} from '../../../src/platform/smi-events.js';

describe('parseSmiLine: every KFD_EVENT_FMT_* body of 6.12', () => {
  it('migrate start: "%lld -%d @%lx(%lx) %x->%x %x:%x %d"', () => {
    expect(parseSmiLine('5 123456789 -4242 @7f0000200(200) 0->b3c7 b3c7:ffffffff 0\n')).toEqual({
      kind: 'migrate-start', raw: '5 123456789 -4242 @7f0000200(200) 0->b3c7 b3c7:ffffffff 0',
      timestampNs: 123456789n, pid: 4242, startPage: 0x7f0000200n, pages: 0x200n, from: 0, to: 0xb3c7,
      prefetchLoc: 0xb3c7, preferredLoc: 0xffffffff, trigger: 0, triggerName: 'prefetch' });
  });

  it('migrate end: "%lld -%d @%lx(%lx) %x->%x %d"', () => {
    expect(parseSmiLine('6 99 -1 @10(1) b3c7->0 2')).toMatchObject({
      kind: 'migrate-end', startPage: 0x10n, pages: 1n, from: 0xb3c7, to: 0, trigger: 2, triggerName: 'pagefault-cpu' });
  });

  it('page fault start / end: R|W and M|U', () => {
    expect(parseSmiLine('7 5 -10 @7f000(c4b1) W')).toMatchObject({ kind: 'page-fault-start', page: 0x7f000n, gpuId: 0xc4b1, write: true });
    expect(parseSmiLine('7 5 -10 @7f000(c4b1) R')).toMatchObject({ kind: 'page-fault-start', write: false });
    expect(parseSmiLine('8 6 -10 @7f000(c4b1) M')).toMatchObject({ kind: 'page-fault-end', migrated: true });
    expect(parseSmiLine('8 6 -10 @7f000(c4b1) U')).toMatchObject({ kind: 'page-fault-end', migrated: false });
    // a start with an end's letter is not a line the kernel writes
    expect(parseSmiLine('7 5 -10 @7f000(c4b1) M')).toMatchObject({ kind: 'unknown', eventId: 7 });
  });

  it('queue eviction / restore: trigger enum, and the rescheduled R (10 and 11 are "a" and "b" in hex)', () => {
    expect(parseSmiLine('9 7 -3 c4b1 3')).toMatchObject({ kind: 'queue-eviction', gpuId: 0xc4b1, trigger: 3, triggerName: 'suspend' });
    expect(parseSmiLine('9 7 -3 c4b1 5')).toMatchObject({ triggerName: 'criu-restore' });
    expect(parseSmiLine('a 8 -3 c4b1 0')).toMatchObject({ kind: 'queue-restore', rescheduled: false });
    expect(parseSmiLine('a 8 -3 c4b1 R')).toMatchObject({ kind: 'queue-restore', rescheduled: true });
    expect(parseSmiLine('b 9 -3 @7f000(400) c4b1 2')).toMatchObject({
      kind: 'unmap-from-gpu', startPage: 0x7f000n, pages: 0x400n, gpuId: 0xc4b1, trigger: 2, triggerName: 'unmap-from-cpu' });
  });

  it('VM fault ("%x:%s", the pid in hex; task names may hold spaces and colons), thermal, GPU reset', () => {
    expect(parseSmiLine('1 1092:my app: worker')).toEqual({ kind: 'vmfault', raw: '1 1092:my app: worker', pid: 0x1092, taskName: 'my app: worker' });
    expect(parseSmiLine('2 10:2a')).toEqual({ kind: 'thermal-throttle', raw: '2 10:2a', throttleBitmask: 0x10n, throttleCounter: 0x2an });
    expect(parseSmiLine('3 1 job hang')).toMatchObject({ kind: 'gpu-pre-reset', resetSeqNum: 1, reason: 'job hang' });
    expect(parseSmiLine('4 1 ')).toMatchObject({ kind: 'gpu-post-reset', resetSeqNum: 1, reason: '' });
  });

  it('a trigger beyond the enum keeps its number, with no name', () => {
    expect(parseSmiLine('6 1 -1 @1(1) 0->1 9')).toMatchObject({ kind: 'migrate-end', trigger: 9, triggerName: undefined });
  });
});

describe('parseSmiLine: lines it does not know stay unknown, never an error', () => {
  it.each([
    ['a newer event id', 'c 1 -1 something new', 12],
    ['a changed body', '5 1 -1 @1(1) 0->1 0', 5],
    ['leading zeros, which printf never writes', '5 01 -1 @1(1) 0->1 0:0 0', 5],
    ['a pid beyond s32', '9 1 -2147483648 0 0', 9],
    ['no event id', 'hello', undefined],
    ['an empty line', '', undefined],
  ])('%s', (_what, line, eventId) => {
    expect(parseSmiLine(line)).toEqual({ kind: 'unknown', raw: line, eventId });
  });

  it('throws ParseError only for a non-string', () => {
    expect(() => parseSmiLine(42 as unknown as string)).toThrow(ParseError);
  });
});

describe('parseSmiEvents', () => {
  it('splits a read into lines, skipping empty ones', () => {
    const recs = parseSmiEvents('5 1 -1 @1(1) 0->1 0:0 0\n6 2 -1 @1(1) 0->1 0\n\nz\n');
    expect(recs.map((r) => r.kind)).toEqual(['migrate-start', 'migrate-end', 'unknown']);
  });
});

describe('formatSmiEvent writes the kernel line', () => {
  it('round-trips every kind through its line', () => {
    const lines = [
      '5 123456789 -4242 @7f0000200(200) 0->b3c7 b3c7:ffffffff 0\n',
      '6 99 -1 @10(1) b3c7->0 2\n',
      '7 5 -10 @7f000(c4b1) W\n',
      '8 6 -10 @7f000(c4b1) U\n',
      '9 7 -3 c4b1 3\n',
      'a 8 -3 c4b1 R\n',
      'b 9 -3 @7f000(400) c4b1 2\n',
      '1 1092:my app\n',
      '2 10:2a\n',
      '3 1 job hang\n',
      '4 2 \n',
      'ff future\n',
    ];
    for (const l of lines) expect(formatSmiEvent(parseSmiLine(l))).toBe(l);
  });

  it('smiRecord fills raw from the fields, so emitters and readers agree', () => {
    const r = smiRecord<MigrateStartEvent>({ kind: 'migrate-start', timestampNs: 5n, pid: 100, startPage: 0x7f000n,
      pages: 0x200n, from: 0, to: 0xb3c7, prefetchLoc: 0xb3c7, preferredLoc: 0, trigger: 0, triggerName: 'prefetch' });
    expect(r.raw).toBe('5 5 -100 @7f000(200) 0->b3c7 b3c7:0 0');
    expect(parseSmiLine(r.raw)).toEqual(r);
  });
});
