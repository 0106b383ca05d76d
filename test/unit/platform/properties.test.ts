/**
 * Property-based tests: whatever the input, a parser returns or throws its own typed error (never a
 * TypeError or RangeError, never hangs), and what the kernel's format can express round-trips.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TreeReader } from '../../../src/backend/contract.js';
import { PlatformError } from '../../../src/platform/errors.js';
import { formatIomem, MAX_IORES_LEVEL, parseIomem, rangesToEntries, type IomemEntry } from '../../../src/platform/iomem.js';
import { getProfile, iomemText, PROFILE_IDS, topologyTree } from '../../../src/platform/profiles.js';
import type { GpuDescription, MachineProfile } from '../../../src/platform/profile-types.js';
import {
  formatSmiEvent,
  MIGRATE_TRIGGERS,
  parseSmiEvents,
  parseSmiLine,
  QUEUE_EVICTION_TRIGGERS,
  UNMAP_TRIGGERS,
  type SmiEventRecord,
} from '../../../src/platform/smi-events.js';
import { parseProperties, parseTopology } from '../../../src/platform/topology.js';
import { MapTreeReader } from '../../../src/platform/tree-reader.js';

const RUNS = { numRuns: 200 };

/** Runs fn; anything thrown must be one of the platform's typed errors. */
function onlyTypedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof PlatformError)) throw e;
  }
}

// ---------- iomem ----------

const U64 = (1n << 64n) - 1n;
/** Resource names: anything on one line (the kernel prints r->name verbatim), spaces and colons included. */
const name = fc.oneof(
  fc.constantFrom('System RAM', 'Soft Reserved', 'hmem.0', 'dax1.0', 'System RAM (kmem)', 'PCI Bus 0000:c1',
    '0000:c1:00.0', 'hmm_dmirror', 'Kernel code', 'PCI MMCONFIG 0000 [bus 00-ff]', 'amdgpu', ''),
  fc.string({ maxLength: 24 }).filter((s) => !s.includes('\n')),
);

/** A valid resource tree: children inside their parent, in address order, at most MAX_IORES_LEVEL deep. */
function iomemTree(start: bigint, end: bigint, depth: number): fc.Arbitrary<IomemEntry[]> {
  return fc.integer({ min: 0, max: depth >= MAX_IORES_LEVEL ? 0 : 3 }).chain((n) => {
    if (n === 0 || end - start < 4n) return fc.constant([]);
    const width = (end - start + 1n) / BigInt(n);
    return fc.tuple(...Array.from({ length: n }, (_, i) => {
      const s0 = start + BigInt(i) * width;
      const e0 = s0 + width - 1n;
      return fc.tuple(fc.bigInt({ min: 0n, max: (e0 - s0) / 2n }), fc.bigInt({ min: 0n, max: (e0 - s0) / 2n }), name)
        .chain(([a, b, nm]) => iomemTree(s0 + a, e0 - b, depth + 1)
          .map((children): IomemEntry => ({ start: s0 + a, end: e0 - b, name: nm, children })));
    }));
  });
}
const iomemEntries = fc.bigInt({ min: 1n, max: U64 }).chain((end) => iomemTree(0n, end, 0));

describe('iomem properties', () => {
  it('format → parse → entries is the identity on valid trees', () => {
    fc.assert(fc.property(iomemEntries, (entries) => {
      const text = formatIomem(entries);
      const io = parseIomem(text);
      expect(rangesToEntries(io.ranges)).toEqual(normalize(entries));
      expect(formatIomem(rangesToEntries(io.ranges))).toBe(text);
    }), RUNS);
  });

  it('the hidden view of any tree parses as hidden, with the same shape and no bounds', () => {
    fc.assert(fc.property(iomemEntries.filter((e) => e.length > 0), (entries) => {
      const io = parseIomem(formatIomem(entries, { hideAddresses: true }));
      expect(io.addressesHidden).toBe(true);
      expect(io.ranges.length).toBe(entries.length);
      expect(io.ranges.every((r) => r.bounds === undefined)).toBe(true);
    }), RUNS);
  });

  it('arbitrary text only ever gives a result or a ParseError', () => {
    const lineish = fc.array(fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.tuple(fc.nat(6), fc.bigInt({ min: 0n, max: U64 * 16n }), fc.bigInt({ min: 0n, max: U64 }), name)
        .map(([d, a, b, n]) => `${' '.repeat(d)}${a.toString(16)}-${b.toString(16)} : ${n}`),
    ), { maxLength: 20 }).map((ls) => ls.join('\n'));
    fc.assert(fc.property(fc.oneof(fc.string(), fc.fullUnicodeString(), lineish), (text) => {
      onlyTypedErrors(() => parseIomem(text));
    }), { numRuns: 500 });
  });

  it('every profile listing, cut anywhere, gives a result or a ParseError; cut at a line end, it parses', () => {
    const texts = PROFILE_IDS.map((id) => iomemText(getProfile(id)));
    fc.assert(fc.property(fc.nat(texts.length - 1), fc.double({ min: 0, max: 1, noNaN: true }), (i, frac) => {
      const text = texts[i]!;
      const cut = text.slice(0, Math.floor(text.length * frac));
      onlyTypedErrors(() => parseIomem(cut));
      const atLine = cut.slice(0, cut.lastIndexOf('\n') + 1);
      expect(parseIomem(atLine).lineCount).toBe(atLine.split('\n').length - 1);
    }), RUNS);
  });
});

function normalize(entries: IomemEntry[]): IomemEntry[] {
  return entries.map((e) => ({ start: e.start, end: e.end, name: e.name, children: normalize(e.children ?? []) }));
}

// ---------- SMI events ----------

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const s32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const u64 = fc.bigInt({ min: 0n, max: U64 });
const s64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const head = { timestampNs: s64, pid: s32 };
const oneLine = fc.string({ maxLength: 30 }).filter((s) => !s.includes('\n'));

const smiRecordArb: fc.Arbitrary<SmiEventRecord> = fc.oneof(
  fc.record({ kind: fc.constant('migrate-start' as const), ...head, startPage: u64, pages: u64, from: u32, to: u32,
    prefetchLoc: u32, preferredLoc: u32, trigger: s32 })
    .map((r) => ({ ...r, triggerName: MIGRATE_TRIGGERS[r.trigger], raw: '' })),
  fc.record({ kind: fc.constant('migrate-end' as const), ...head, startPage: u64, pages: u64, from: u32, to: u32, trigger: s32 })
    .map((r) => ({ ...r, triggerName: MIGRATE_TRIGGERS[r.trigger], raw: '' })),
  fc.record({ kind: fc.constant('page-fault-start' as const), ...head, page: u64, gpuId: u32, write: fc.boolean() })
    .map((r) => ({ ...r, raw: '' })),
  fc.record({ kind: fc.constant('page-fault-end' as const), ...head, page: u64, gpuId: u32, migrated: fc.boolean() })
    .map((r) => ({ ...r, raw: '' })),
  fc.record({ kind: fc.constant('queue-eviction' as const), ...head, gpuId: u32, trigger: s32 })
    .map((r) => ({ ...r, triggerName: QUEUE_EVICTION_TRIGGERS[r.trigger], raw: '' })),
  fc.record({ kind: fc.constant('queue-restore' as const), ...head, gpuId: u32, rescheduled: fc.boolean() })
    .map((r) => ({ ...r, raw: '' })),
  fc.record({ kind: fc.constant('unmap-from-gpu' as const), ...head, startPage: u64, pages: u64, gpuId: u32, trigger: s32 })
    .map((r) => ({ ...r, triggerName: UNMAP_TRIGGERS[r.trigger], raw: '' })),
  fc.record({ kind: fc.constant('vmfault' as const), pid: u32, taskName: oneLine }).map((r) => ({ ...r, raw: '' })),
  fc.record({ kind: fc.constant('thermal-throttle' as const), throttleBitmask: u64, throttleCounter: u64 })
    .map((r) => ({ ...r, raw: '' })),
  fc.record({ kind: fc.constantFrom('gpu-pre-reset' as const, 'gpu-post-reset' as const), resetSeqNum: u32, reason: oneLine })
    .map((r) => ({ ...r, raw: '' })),
).map((r) => ({ ...r, raw: formatSmiEvent(r).slice(0, -1) }) as SmiEventRecord);

describe('SMI event properties', () => {
  it('parse(format(record)) is the record, for every kind and every value the formats allow', () => {
    fc.assert(fc.property(smiRecordArb, (r) => {
      expect(parseSmiLine(formatSmiEvent(r))).toEqual(r);
    }), { numRuns: 1000 });
  });

  it('any line parses without throwing, keeps its text, and formats back to itself', () => {
    const near = fc.tuple(fc.constantFrom('5 ', '6 ', '7 ', '8 ', '9 ', 'a ', 'b ', '1 ', '2 ', '3 ', '4 ', 'c '),
      fc.string({ maxLength: 60 })).map(([a, b]) => a + b);
    fc.assert(fc.property(fc.oneof(fc.string(), fc.fullUnicodeString(), near).filter((s) => !s.includes('\n')), (line) => {
      const r = parseSmiLine(line);
      expect(r.raw).toBe(line);
      expect(formatSmiEvent(r)).toBe(`${line}\n`);
    }), { numRuns: 1000 });
  });

  it('a stream of records parses back to the same records', () => {
    fc.assert(fc.property(fc.array(smiRecordArb, { maxLength: 20 }), (recs) => {
      expect(parseSmiEvents(recs.map(formatSmiEvent).join(''))).toEqual(recs);
    }), RUNS);
  });
});

// ---------- topology ----------

const propKey = fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/).filter((k) => k !== 'sibling_map');

describe('topology properties', () => {
  it('"key value" files round-trip every u64, as a number when safe and a bigint otherwise', () => {
    fc.assert(fc.property(fc.dictionary(propKey, u64), (props) => {
      const text = Object.entries(props).map(([k, v]) => `${k} ${v}\n`).join('');
      const { props: parsed } = parseProperties(text, 'x');
      expect(Object.keys(parsed).sort()).toEqual(Object.keys(props).sort());
      for (const [k, v] of Object.entries(props)) {
        const got = parsed[k]!;
        expect(BigInt(got)).toBe(v);
        expect(typeof got).toBe(v <= BigInt(Number.MAX_SAFE_INTEGER) ? 'number' : 'bigint');
      }
    }), RUNS);
  });

  /** A random machine: 1-3 CPU nodes, 0-6 GPUs of the profile kinds, PCI addresses and ids varied. */
  const machine: fc.Arbitrary<MachineProfile> = fc.record({
    cpus: fc.integer({ min: 1, max: 3 }),
    gpus: fc.array(fc.record({
      base: fc.constantFrom(...(['mi250x', 'mi210', 'mi300x', 'mi300a'] as const)),
      gpuId: fc.integer({ min: 1, max: 0xffff }),
      domain: fc.integer({ min: 0, max: 0xffff }),
      bus: fc.integer({ min: 0, max: 255 }),
      device: fc.integer({ min: 0, max: 31 }),
      fn: fc.integer({ min: 0, max: 7 }),
      minor: fc.integer({ min: 128, max: 255 }),
      svm: fc.boolean(),
      hive: fc.constantFrom(0n, 7n, 0xffffffffffffffffn),
      host: fc.nat(2),
    }), { maxLength: 6 }),
  }).map(({ cpus, gpus }) => {
    const base = getProfile('mi210');
    const list: GpuDescription[] = [];
    const seen = new Set<number>();
    for (const g of gpus) {
      if (seen.has(g.gpuId)) continue;
      seen.add(g.gpuId);
      const t = getProfile(g.base).gpus[0]!;
      list.push({ ...t, gpuId: g.gpuId, pci: { domain: g.domain, bus: g.bus, device: g.device, function: g.fn },
        drmRenderMinor: g.minor, svmSupported: g.svm, hiveId: g.hive, hostNode: g.host });
    }
    return { ...base, cpus: Array.from({ length: cpus }, () => ({ ...base.cpus[0]! })), gpus: list };
  });

  it('a generated tree parses back to the machine it describes', () => {
    fc.assert(fc.property(machine, (m) => {
      const t = parseTopology(topologyTree(m));
      if (!t.present) throw new Error('absent');
      expect(t.nodes.filter((n) => !n.isGpu)).toHaveLength(m.cpus.length);
      expect(t.gpus.map((g) => g.gpuId)).toEqual(m.gpus.map((g) => g.gpuId));
      t.gpus.forEach((g, i) => {
        const d = m.gpus[i]!;
        const h = (v: number, w: number): string => v.toString(16).padStart(w, '0');
        expect(g.pciAddress).toBe(`${h(d.pci.domain, 4)}:${h(d.pci.bus, 2)}:${h(d.pci.device, 2)}.${d.pci.function}`);
        expect(g.drmRenderMinor).toBe(d.drmRenderMinor);
        expect(g.gfxTargetVersion).toBe(d.gfxTargetVersion);
        expect(g.simdCount).toBe(d.simdCount);
        expect(g.localMemoryBytes).toBe(BigInt(d.vramBytes));
        expect(g.svmSupported).toBe(d.svmSupported);
        expect(g.capability?.coherentHostAccess).toBe(d.memoryKind !== 'private');
        expect(g.ioLinks[0]!.nodeTo).toBe(Math.min(d.hostNode ?? 0, m.cpus.length - 1));
      });
      expect(t.warnings).toEqual([]);
    }), { numRuns: 60 });
  });

  it('a profile tree with any file replaced, cut or removed gives a result or a typed error', () => {
    // mi210 and cpu-only: every file kind (CPU/GPU nodes, banks, links, p2p links, caches) at a size that
    // keeps each run cheap.
    const trees = (['mi210', 'cpu-only'] as const).map((id) => (topologyTree(getProfile(id)) as MapTreeReader).entries());
    fc.assert(fc.property(
      fc.nat(trees.length - 1), fc.nat(), fc.oneof(fc.constant(undefined), fc.string(), fc.double({ min: 0, max: 1, noNaN: true })),
      (ti, fi, change) => {
        const files = new Map(trees[ti]!);
        const path = [...files.keys()][fi % files.size]!;
        if (change === undefined) files.delete(path);
        else if (typeof change === 'string') files.set(path, change);
        else files.set(path, files.get(path)!.slice(0, Math.floor(files.get(path)!.length * change)));
        onlyTypedErrors(() => parseTopology(new MapTreeReader(files)));
      }), { numRuns: 120 });
  });

  it('a reader answering anything at all (or throwing) never escapes as an untyped error, and never loops', () => {
    const answer = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 20 }), fc.constantFrom('1\n', '0\n', 'a 1\n'));
    fc.assert(fc.property(fc.array(answer, { minLength: 1, maxLength: 50 }), fc.array(fc.array(fc.constantFrom('0', '1', 'x', 'nodes'), { maxLength: 3 }), { minLength: 1, maxLength: 10 }), fc.boolean(),
      (answers, lists, throws) => {
        let i = 0;
        let j = 0;
        let calls = 0;
        const r: TreeReader = {
          readFile: () => {
            if (++calls > 10_000) throw new Error('the parser loops');
            if (throws && i % 7 === 6) throw new Error('EIO');
            return answers[i++ % answers.length];
          },
          listDir: () => lists[j++ % lists.length],
        };
        onlyTypedErrors(() => parseTopology(r));
        expect(calls).toBeLessThan(10_000);
      }), { numRuns: 300 });
  });
});
