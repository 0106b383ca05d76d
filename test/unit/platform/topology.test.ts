import { describe, expect, it } from 'vitest';
import type { TreeReader } from '../../../src/backend/contract.js';
import { gfxTargetName } from '../../../src/platform/asic.js';
import { ParseError, TopologyReadError, TopologyUnstableError } from '../../../src/platform/errors.js';
import { decodeCapability, HSA_CAP } from '../../../src/platform/kfd-sysfs.js';
import { getProfile, topologyTree } from '../../../src/platform/profiles.js';
import { parseProperties, parseTopology, type TopologyPresent } from '../../../src/platform/topology.js';
import { MapTreeReader } from '../../../src/platform/tree-reader.js';
import { KernelError } from '../../../src/backend/errors.js';
import { topologyFixture } from './fixtures.js';

function present(r: ReturnType<typeof parseTopology>): TopologyPresent {
  if (!r.present) throw new Error(`absent: ${r.reason}`);
  return r;
}

describe('parseTopology: no KFD', () => {
  it('answers present: false with a reason, for no reader and for a reader without the root', () => {
    const empty: TreeReader = { readFile: () => undefined, listDir: () => undefined };
    for (const r of [parseTopology(undefined), parseTopology(empty)]) {
      expect(r.present).toBe(false);
      if (!r.present) expect(r.reason).toMatch(/no KFD topology.*amdgpu/);
      expect(r.nodes).toEqual([]);
    }
  });
});

describe('parseTopology: the real QEMU guests of the reference', () => {
  it.each([
    ['qemu-6.1-cpu-only.json', 2060419072n, false],
    ['qemu-6.12-cpu-only.json', 2067599360n, true],
    ['qemu-6.1-custom-svm-cpu-only.json', 2070286336n, false],
  ])('%s: one CPU node, gpu_id 0, 2 cores', (file, memBytes, has612Keys) => {
    const t = present(parseTopology(topologyFixture(file)));
    expect(t.generationId).toBe(1);
    expect(t.attempts).toBe(1);
    expect(t.systemProperties.platform_oem).toBe(2314885531408816194n);
    expect(t.systemProperties.platform_id).toBe(35542066745154);
    expect(t.platform).toEqual({ oemId: 'BOCHS ', oemTableId: 'BXPC    ', revision: 1 });
    expect(t.nodes).toHaveLength(1);
    const n = t.nodes[0]!;
    expect(n).toMatchObject({ id: 0, kind: 'cpu', isGpu: false, gpuId: 0, name: '', cpuCoresCount: 2, simdCount: 0,
      gfxTarget: undefined, pciAddress: undefined, capability: undefined, svmSupported: false, xnackPerProcess: false });
    expect(n.localMemoryBytes).toBe(memBytes);
    expect(n.memBanks).toEqual([expect.objectContaining({ heapType: 0, heapTypeName: 'system', sizeInBytes: memBytes })]);
    expect('cwsr_size' in n.properties).toBe(has612Keys);
    expect(Object.keys(n.properties)).toHaveLength(has612Keys ? 32 : 30);
    expect(t.warnings).toEqual([]);
  });

  it('serializes to JSON (bigints as decimal strings)', () => {
    const t = present(parseTopology(topologyFixture('qemu-6.12-cpu-only.json')));
    const json = JSON.parse(JSON.stringify(t)) as { systemProperties: Record<string, unknown>; nodes: unknown[] };
    expect(json.systemProperties.platform_oem).toBe('2314885531408816194');
    expect(json.nodes).toHaveLength(1);
  });
});

describe('gfx target names (major, then minor and stepping as hex digits)', () => {
  it.each([
    [90010, 'gfx90a'], [90402, 'gfx942'], [90400, 'gfx940'], [90008, 'gfx908'], [100300, 'gfx1030'],
    [110000, 'gfx1100'], [110501, 'gfx1151'], [120001, 'gfx1201'], [90012, 'gfx90c'],
  ])('%i → %s', (v, name) => expect(gfxTargetName(v)).toBe(name));
});

describe('capability bits (kfd_sysfs.h)', () => {
  it('decodes flags by name and the multi-bit fields', () => {
    const v = HSA_CAP.SVMAPI_SUPPORTED | HSA_CAP.FLAGS_COHERENTHOSTACCESS | (2 << 8) | (2 << 12) | (1 << 22) | 0x80;
    const c = decodeCapability(v);
    expect(c.svmApiSupported).toBe(true);
    expect(c.coherentHostAccess).toBe(true);
    expect(c.watchPointsTotalBits).toBe(2);
    expect(c.doorbellType).toBe(2);
    expect(c.asicRevision).toBe(1);
    expect(c.flags).toEqual(['WATCH_POINTS_SUPPORTED', 'SVMAPI_SUPPORTED', 'FLAGS_COHERENTHOSTACCESS']);
    expect(c.unknownBits).toBe(0);
    expect(decodeCapability(0x80000000).unknownBits).toBe(0x80000000);
  });

  it('a GPU without the SVM bit is reported as not SVM-capable', () => {
    const files = new Map((topologyTree(getProfile('mi210')) as MapTreeReader).entries());
    const path = 'nodes/1/properties';
    const cap = Number(/capability (\d+)/.exec(files.get(path)!)![1]);
    files.set(path, files.get(path)!.replace(`capability ${cap}`, `capability ${cap & ~HSA_CAP.SVMAPI_SUPPORTED}`));
    const t = present(parseTopology(new MapTreeReader(files)));
    expect(t.gpus[0]!.svmSupported).toBe(false);
    expect(t.gpus[1]!.svmSupported).toBe(true);
  });
});

/** A reader over a profile tree whose behaviour changes with each full read (counted by generation_id reads). */
function flakyReader(base: MapTreeReader, mutate: (read: number, path: string) => 'gone' | string | undefined): TreeReader {
  let genReads = 0;
  return {
    readFile(path) {
      if (path === 'generation_id') genReads++;
      const m = mutate(genReads, path);
      if (m === 'gone') return undefined;
      return m ?? base.readFile(path);
    },
    listDir: (p) => base.listDir(p),
  };
}

describe('parseTopology: options and odd corners of the file formats', () => {
  it('caches: false skips every caches/ entry (and its count check)', () => {
    const reader = topologyTree(getProfile('mi210'));
    const full = present(parseTopology(reader));
    const lean = present(parseTopology(reader, { caches: false }));
    expect(full.gpus[0]!.caches.length).toBeGreaterThan(100);
    expect(lean.gpus[0]!.caches).toEqual([]);
    expect(lean.warnings).toEqual([]);
    expect(lean.gpus.map((g) => g.gpuId)).toEqual(full.gpus.map((g) => g.gpuId));
  });

  it('reads a cache with an empty sibling map ("sibling_map\\n", kfd_cache_show with size 0)', () => {
    const { siblingMap } = parseProperties('level 1\nsibling_map\n', 'x');
    expect(siblingMap).toEqual([]);
    expect(parseProperties('sibling_map 1,0,1\n', 'x').siblingMap).toEqual([1, 0, 1]);
  });

  it('keeps a "__proto__" key as an ordinary own property', () => {
    const { props } = parseProperties('__proto__ 5\nsimd_count 2\n', 'x');
    expect(Object.keys(props)).toEqual(['__proto__', 'simd_count']);
    expect(Object.getPrototypeOf(props)).toBe(Object.prototype);
  });
});

describe('parseTopology: a tree that changes while it is read', () => {
  const base = topologyTree(getProfile('mi210')) as MapTreeReader;

  it('re-reads when a node vanishes mid-read, and reports how many reads it took', () => {
    // first pass (generation_id read once so far): node 2's properties are gone (hot-unplug in progress)
    const r = flakyReader(base, (read, path) => (read === 1 && path === 'nodes/2/properties' ? 'gone' : undefined));
    const t = present(parseTopology(r));
    expect(t.attempts).toBe(2);
    expect(t.gpus).toHaveLength(2);
  });

  it('re-reads when generation_id differs between the start and the end of a read', () => {
    // reads 1 (start) and 2 (end) disagree; reads 3 and 4 agree
    const r = flakyReader(base, (read, path) => (path === 'generation_id' ? (read === 2 ? '2\n' : read >= 3 ? '2\n' : '1\n') : undefined));
    const t = present(parseTopology(r));
    expect(t.attempts).toBe(2);
    expect(t.generationId).toBe(2);
  });

  it('gives up with TopologyUnstableError after maxAttempts, naming what changed', () => {
    const r = flakyReader(base, (read, path) => (path === 'generation_id' ? `${read}\n` : undefined));
    expect(() => parseTopology(r, { maxAttempts: 3 })).toThrow(TopologyUnstableError);
    try {
      parseTopology(r, { maxAttempts: 3 });
    } catch (e) {
      expect((e as TopologyUnstableError).attempts).toBe(3);
      expect((e as TopologyUnstableError).reasons[0]).toMatch(/generation_id changed/);
    }
  });

  it('a non-finite maxAttempts means the default 5 tries: never zero tries, never an endless loop', () => {
    for (const maxAttempts of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const r = flakyReader(base, (read, path) => (path === 'generation_id' ? `${read}\n` : undefined));
      let err: unknown;
      try {
        parseTopology(r, { maxAttempts });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TopologyUnstableError);
      expect((err as TopologyUnstableError).attempts).toBe(5);
    }
  });
});

describe('parseTopology: malformed input', () => {
  const files = (): Map<string, string> => new Map(topologyFixture('qemu-6.12-cpu-only.json').entries());

  it.each([
    ['a property line without a value', 'nodes/0/properties', 'cpu_cores_count\n'],
    ['a negative value', 'nodes/0/properties', 'cpu_cores_count -2\n'],
    ['a value over 64 bits', 'nodes/0/properties', 'hive_id 18446744073709551616\n'],
    ['a duplicate key', 'nodes/0/properties', 'simd_count 0\nsimd_count 0\n'],
    ['a non-numeric gpu_id', 'nodes/0/gpu_id', 'zero\n'],
    ['a non-numeric generation_id', 'generation_id', '\n'],
    ['a malformed sibling_map', 'nodes/0/mem_banks/0/properties', 'sibling_map 1,2\n'],
  ])('%s → ParseError naming the file', (_what, path, text) => {
    const f = files();
    f.set(path, text);
    let caught: unknown;
    try {
      parseTopology(new MapTreeReader(f));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ParseError);
    expect((caught as ParseError).path).toBe(path);
  });

  it('a count property that disagrees with the entries is a warning, not an error', () => {
    const f = files();
    f.set('nodes/0/properties', f.get('nodes/0/properties')!.replace('mem_banks_count 1', 'mem_banks_count 2'));
    const t = present(parseTopology(new MapTreeReader(f)));
    expect(t.warnings).toEqual(['nodes/0: mem_banks_count says 2, 1 found']);
  });

  it('a reader that fails (EACCES under a device cgroup) surfaces as TopologyReadError with the path', () => {
    const base = topologyFixture('qemu-6.12-cpu-only.json');
    const r: TreeReader = {
      readFile(path) {
        if (path === 'nodes/0/properties') throw Object.assign(new Error('EPERM: operation not permitted'), { code: 'EPERM' });
        return base.readFile(path);
      },
      listDir: (p) => base.listDir(p),
    };
    expect(() => parseTopology(r)).toThrow(TopologyReadError);
    expect(() => parseTopology(r)).toThrow(/nodes\/0\/properties.*EPERM/);
  });
});

describe('parseTopology: GPUs the device cgroup denies (Slurm ConstrainDevices)', () => {
  const base = topologyTree(getProfile('mi250x')) as MapTreeReader;
  // kfd_topology.c answers EPERM for every file of a GPU node whose render node the cgroup denies;
  // FsTreeReader reports that as the KernelError a real read gives.
  const denying = (denied: number[]): TreeReader => ({
    readFile: (p) => {
      const m = /^nodes\/(\d+)\//.exec(p);
      if (m && denied.includes(Number(m[1]))) throw new KernelError(1, 'read', `/sys/class/kfd/kfd/topology/${p}`);
      return base.readFile(p);
    },
    listDir: (p) => base.listDir(p),
  });

  it('leaves denied GPU nodes out of nodes and gpus and lists them in hiddenNodes', () => {
    const all = present(parseTopology(base, { caches: false }));
    const t = present(parseTopology(denying([2, 5]), { caches: false }));
    expect(t.hiddenNodes).toEqual([2, 5]);
    expect(t.nodes.map((n) => n.id)).toEqual(all.nodes.map((n) => n.id).filter((id) => id !== 2 && id !== 5));
    expect(t.gpus).toHaveLength(all.gpus.length - 2);
    expect(all.hiddenNodes).toEqual([]);
  });

  it('any other read error still fails the parse with TopologyReadError', () => {
    const r: TreeReader = {
      readFile: (p) => {
        if (p === 'nodes/2/gpu_id') throw new KernelError(5, 'read', p);
        return base.readFile(p);
      },
      listDir: (p) => base.listDir(p),
    };
    expect(() => parseTopology(r)).toThrow(TopologyReadError);
  });
});
