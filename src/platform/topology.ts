/**
 * The KFD topology (/sys/class/kfd/kfd/topology, Linux 6.12 kfd_topology.c) read through a TreeReader:
 * `generation_id`, `system_properties`, and `nodes/N/` with `gpu_id`, `name`, `properties`,
 * `mem_banks/M/properties`, `io_links/L/properties`, `p2p_links/L/properties`, `caches/C/properties`.
 * Every property file is lines of `"%s %u"` / `"%s %llu"`, except the cache's `sibling_map` (bits as
 * comma-separated digits).
 *
 * The tree changes under a reader when GPUs come and go (kfd_topology_add_device / remove bump
 * generation_id and rebuild the nodes): a node can vanish between listing and reading. So a read
 * checks generation_id before and after, and a file that vanished mid-read or a changed generation
 * makes it read again, up to `maxAttempts` times, then throw TopologyUnstableError.
 *
 * Two facts the reference glosses over, from the source:
 * - `local_mem_size` in a GPU's properties is always 0 (node_show writes `0ULL`); the memory is in its
 *   mem_banks (heap FB_PUBLIC or FB_PRIVATE), which is where localMemoryBytes comes from.
 * - There is no XNACK bit in the topology (kfd_sysfs.h defines none). XNACK support is per GPU
 *   generation (kfd_priv.h KFD_SUPPORT_XNACK_PER_PROCESS: GC 9.4.2 / 9.4.3 / 9.4.4, i.e. gfx90a and
 *   gfx94x); the process's mode comes from AMDKFD_IOC_SET_XNACK_MODE. xnackPerProcess is derived from
 *   the gfx target and says so.
 */
import type { TreeReader } from '../backend/contract.js';
import { gfxTargetName, supportsPerProcessXnack } from './asic.js';
import { ParseError, PlatformError, TopologyReadError, TopologyUnstableError } from './errors.js';
import {
  decodeCacheType,
  decodeCapability,
  decodeIoLinkFlags,
  HEAP_TYPES,
  IOLINK_TYPES,
  type Capability,
  type CacheTypeName,
  type HeapTypeName,
  type IoLinkFlags,
} from './kfd-sysfs.js';
import { withBigintJson } from './bigint-json.js';

/** A property value: a number when it is a safe integer, else a bigint (hive_id, unique_id, ...). */
export type PropertyValue = number | bigint;
export type Properties = Readonly<Record<string, PropertyValue>>;

export interface MemBank {
  index: number;
  heapType: number;
  heapTypeName: HeapTypeName | undefined;
  sizeInBytes: bigint;
  flags: number;
  width: number;
  memClkMax: number;
  properties: Properties;
}

export interface IoLink {
  index: number;
  type: number;
  typeName: string | undefined;
  nodeFrom: number;
  nodeTo: number;
  weight: number;
  minLatency: number;
  maxLatency: number;
  minBandwidth: number;
  maxBandwidth: number;
  recommendedSdmaEngineIdMask: number;
  flags: number;
  flagsDecoded: IoLinkFlags;
  properties: Properties;
}

export interface Cache {
  index: number;
  processorIdLow: number;
  level: number;
  /** KiB. */
  size: number;
  cacheLineSize: number;
  type: number;
  typeNames: readonly CacheTypeName[];
  /** One entry per bit of the kernel's sibling map (1 = the CU/core shares this cache). */
  siblingMap: number[];
  properties: Properties;
}

export interface TopologyNode {
  /** The directory number under nodes/ (the proximity domain). */
  id: number;
  kind: 'cpu' | 'gpu';
  /** simd_count > 0 (node_show writes simd_count only for nodes with a GPU). */
  isGpu: boolean;
  /** 0 for a CPU node. */
  gpuId: number;
  /** The ASIC name for GPUs ('aldebaran', 'ip discovery'); empty for CPU nodes. */
  name: string;
  /** Every key of the `properties` file. */
  properties: Properties;
  cpuCoresCount: number;
  simdCount: number;
  gfxTargetVersion: number;
  /** 'gfx90a', 'gfx942', ... for GPU nodes. */
  gfxTarget: string | undefined;
  vendorId: number;
  deviceId: number;
  locationId: number;
  domain: number;
  /**
   * 'dddd:bb:dd.f' from domain and location_id, for GPU nodes; for the nodes of a partitioned device (one
   * unique_id, location_id | node_id) the device's address, shared by all of them.
   */
  pciAddress: string | undefined;
  /** /dev/dri/renderD<minor>, for GPU nodes. */
  drmRenderMinor: number | undefined;
  hiveId: bigint;
  numXcc: number | undefined;
  uniqueId: bigint | undefined;
  /** Bytes of local memory: FB heaps for a GPU, system heap for a CPU (from mem_banks). */
  localMemoryBytes: bigint;
  /** The capability bits decoded; undefined for CPU nodes (node_show writes none). */
  capability: Capability | undefined;
  svmSupported: boolean;
  /** Per-process XNACK possible on this GPU, derived from the gfx target (the topology has no bit). */
  xnackPerProcess: boolean;
  memBanks: MemBank[];
  ioLinks: IoLink[];
  p2pLinks: IoLink[];
  caches: Cache[];
}

export interface TopologyPresent {
  present: true;
  generationId: number;
  systemProperties: Properties;
  /** platform_id / platform_oem decoded back to the ACPI OEM strings. */
  platform: { oemId: string; oemTableId: string; revision: number };
  nodes: TopologyNode[];
  gpus: TopologyNode[];
  /**
   * Sysfs ids of GPU nodes this process may not see: the kernel answers EPERM for their files when the
   * device cgroup denies the GPU's render node (kfd_topology.c: kfd_devcgroup_check_permission), as Slurm's
   * ConstrainDevices does for the GPUs of other jobs. They are left out of `nodes` and `gpus`, as libhsakmt
   * leaves them out (topology_sysfs_check_node_supported).
   */
  hiddenNodes: number[];
  /** How many reads it took to get a consistent tree. */
  attempts: number;
  /** Oddities that did not stop the parse (a count property that disagrees with the entries). */
  warnings: string[];
}

export interface TopologyAbsent {
  present: false;
  reason: string;
  /** Always empty: lets callers walk nodes without narrowing first. */
  nodes: TopologyNode[];
  gpus: TopologyNode[];
}

export type TopologyResult = TopologyPresent | TopologyAbsent;

export interface TopologyParseOptions {
  /** Reads of an inconsistent tree before TopologyUnstableError (default 5). */
  maxAttempts?: number;
  /**
   * Read the caches/ of every node (default true). A GPU has hundreds of cache entries (223 per MI250X
   * GCD, 626 per MI300X) and they are most of the files; callers that need no cache facts skip them.
   */
  caches?: boolean;
}

export const NO_KFD_REASON =
  'no KFD topology (/sys/class/kfd/kfd/topology is missing: the amdgpu driver is not loaded, or the ' +
  'kernel was built without CONFIG_HSA_AMD)';

/** Signals a read that saw the tree change; caught by the retry loop only. */
class Vanished {
  constructor(readonly reason: string) {}
}

class Reader {
  constructor(private readonly tree: TreeReader) {}

  file(path: string): string | undefined {
    try {
      return this.tree.readFile(path);
    } catch (e) {
      throw new TopologyReadError(path, e);
    }
  }

  need(path: string): string {
    const v = this.file(path);
    if (v === undefined) throw new Vanished(`${path} vanished`);
    if (typeof v !== 'string') throw new ParseError('topology', 'reader returned a non-string', { path });
    return v;
  }

  list(path: string): string[] | undefined {
    try {
      const v = this.tree.listDir(path);
      if (v !== undefined && !Array.isArray(v)) throw new ParseError('topology', 'reader returned a non-array', { path });
      return v;
    } catch (e) {
      if (e instanceof PlatformError) throw e;
      throw new TopologyReadError(path, e);
    }
  }
}

const U64_MAX = (1n << 64n) - 1n;

/**
 * The decimal value in text[from, to): unsigned, 1 to 20 digits, as a number when it is a safe integer,
 * else a bigint. undefined when malformed or above 64 bits.
 */
function decimalValue(text: string, from: number, to: number): PropertyValue | undefined {
  const len = to - from;
  if (len < 1 || len > 20) return undefined;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  if (len <= 15) return n; // < 10^15 < 2^53: exact
  const v = BigInt(text.slice(from, to));
  if (v > U64_MAX) return undefined;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A key of [A-Za-z0-9_]+ in text[from, to). */
function validKey(text: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || (c >= 65 && c <= 90))) return false;
  }
  return true;
}

/** `0,1,0,...` in text[from, to): one digit per bit, comma separated (kfd_cache_show). */
function siblingBits(text: string, from: number, to: number): number[] | undefined {
  const len = to - from;
  if (len % 2 === 0) return undefined;
  const out = new Array<number>((len + 1) / 2);
  for (let i = 0; i < len; i += 2) {
    const c = text.charCodeAt(from + i);
    if (c !== 48 && c !== 49) return undefined;
    if (i + 1 < len && text.charCodeAt(from + i + 1) !== 44) return undefined;
    out[i / 2] = c - 48;
  }
  return out;
}

const SIBLING_MAP = 'sibling_map';

/**
 * A `properties` file: `key value` lines (unsigned decimal, "%s %u" / "%s %llu"); a cache's
 * `sibling_map` line is returned aside. Scans the text in place (these files are most of a topology).
 */
export function parseProperties(text: string, path: string): { props: Record<string, PropertyValue>; siblingMap?: number[] } {
  // A plain object (fast properties); '__proto__' is defined as an own key rather than assigned.
  const props: Record<string, PropertyValue> = {};
  let siblingMap: number[] | undefined;
  const bad = (what: string, lineNo: number, start: number, end: number): ParseError =>
    new ParseError('topology', what, { path, line: lineNo, raw: text.slice(start, end) });
  let pos = 0;
  let lineNo = 0;
  while (pos < text.length) {
    lineNo++;
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = text.length;
    const sp = text.indexOf(' ', pos);
    const keyEnd = sp >= 0 && sp < eol ? sp : eol;
    if (keyEnd - pos === SIBLING_MAP.length && text.startsWith(SIBLING_MAP, pos)) {
      // kfd_cache_show with sibling_map_size 0 overwrites the space after the key with the newline.
      siblingMap = keyEnd === eol ? [] : siblingBits(text, keyEnd + 1, eol);
      if (!siblingMap) throw bad('malformed sibling_map', lineNo, pos, eol);
    } else {
      if (keyEnd === eol || !validKey(text, pos, keyEnd)) throw bad('not a "key value" property line', lineNo, pos, eol);
      const key = text.slice(pos, keyEnd);
      const v = decimalValue(text, keyEnd + 1, eol);
      if (v === undefined) throw bad(`${key}: not an unsigned 64-bit decimal`, lineNo, pos, eol);
      if (Object.prototype.hasOwnProperty.call(props, key)) throw bad(`duplicate property ${key}`, lineNo, pos, eol);
      if (key === '__proto__') Object.defineProperty(props, key, { value: v, enumerable: true, writable: true, configurable: true });
      else props[key] = v;
    }
    pos = eol + 1;
  }
  return siblingMap ? { props, siblingMap } : { props };
}

function num(p: Properties, key: string): number {
  const v = p[key];
  return v === undefined ? 0 : Number(v);
}

function big(p: Properties, key: string): bigint {
  const v = p[key];
  return v === undefined ? 0n : BigInt(v);
}

function parseUint(text: string, path: string): number {
  const t = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (!/^[0-9]{1,10}$/.test(t) || Number(t) > 0xffffffff) {
    throw new ParseError('topology', 'expected an unsigned 32-bit decimal', { path, raw: text });
  }
  return Number(t);
}

/** Sorted numeric entries of a directory; anything else there is ignored (sysfs has nothing else). */
function numericEntries(list: string[] | undefined): number[] {
  if (!list) return [];
  return list.filter((n) => /^(0|[1-9][0-9]{0,8})$/.test(n)).map(Number).sort((a, b) => a - b);
}

function pciAddress(domain: number, locationId: number): string {
  const bus = (locationId >> 8) & 0xff;
  const dev = (locationId >> 3) & 0x1f;
  const fn = locationId & 7;
  const h = (v: number, w: number): string => v.toString(16).padStart(w, '0');
  return `${h(domain, 4)}:${h(bus, 2)}:${h(dev, 2)}.${fn}`;
}

function oemString(v: bigint, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) {
    const c = Number((v >> BigInt(8 * i)) & 0xffn);
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : c === 0 ? '' : '?';
  }
  return s;
}

function readNode(r: Reader, id: number, warnings: string[], withCaches: boolean): TopologyNode {
  const dir = `nodes/${id}`;
  const gpuId = parseUint(r.need(`${dir}/gpu_id`), `${dir}/gpu_id`);
  const nameText = r.need(`${dir}/name`);
  const name = nameText.endsWith('\n') ? nameText.slice(0, -1) : nameText;
  const { props } = parseProperties(r.need(`${dir}/properties`), `${dir}/properties`);

  const memBanks = numericEntries(r.list(`${dir}/mem_banks`)).map((i): MemBank => {
    const path = `${dir}/mem_banks/${i}/properties`;
    const { props: p } = parseProperties(r.need(path), path);
    const heapType = num(p, 'heap_type');
    return { index: i, heapType, heapTypeName: HEAP_TYPES[heapType], sizeInBytes: big(p, 'size_in_bytes'),
      flags: num(p, 'flags'), width: num(p, 'width'), memClkMax: num(p, 'mem_clk_max'), properties: p };
  });
  const links = (sub: 'io_links' | 'p2p_links'): IoLink[] =>
    numericEntries(r.list(`${dir}/${sub}`)).map((i): IoLink => {
      const path = `${dir}/${sub}/${i}/properties`;
      const { props: p } = parseProperties(r.need(path), path);
      const type = num(p, 'type');
      const flags = num(p, 'flags');
      return { index: i, type, typeName: IOLINK_TYPES[type], nodeFrom: num(p, 'node_from'), nodeTo: num(p, 'node_to'),
        weight: num(p, 'weight'), minLatency: num(p, 'min_latency'), maxLatency: num(p, 'max_latency'),
        minBandwidth: num(p, 'min_bandwidth'), maxBandwidth: num(p, 'max_bandwidth'),
        recommendedSdmaEngineIdMask: num(p, 'recommended_sdma_engine_id_mask'), flags,
        flagsDecoded: decodeIoLinkFlags(flags), properties: p };
    });
  const ioLinks = links('io_links');
  const p2pLinks = links('p2p_links');
  const caches = (withCaches ? numericEntries(r.list(`${dir}/caches`)) : []).map((i): Cache => {
    const path = `${dir}/caches/${i}/properties`;
    const { props: p, siblingMap } = parseProperties(r.need(path), path);
    const type = num(p, 'type');
    return { index: i, processorIdLow: num(p, 'processor_id_low'), level: num(p, 'level'), size: num(p, 'size'),
      cacheLineSize: num(p, 'cache_line_size'), type, typeNames: decodeCacheType(type), siblingMap: siblingMap ?? [],
      properties: p };
  });

  const counts: [string, number][] = [['mem_banks_count', memBanks.length], ['io_links_count', ioLinks.length],
    ['p2p_links_count', p2pLinks.length]];
  if (withCaches) counts.push(['caches_count', caches.length]);
  for (const [key, found] of counts) {
    if (props[key] !== undefined && num(props, key) !== found) {
      warnings.push(`${dir}: ${key} says ${num(props, key)}, ${found} found`);
    }
  }

  const simdCount = num(props, 'simd_count');
  const isGpu = simdCount > 0;
  const gfxTargetVersion = num(props, 'gfx_target_version');
  const capability = props.capability !== undefined ? decodeCapability(num(props, 'capability')) : undefined;
  const locationId = num(props, 'location_id');
  const domain = num(props, 'domain');
  const heapBytes = (pred: (t: number) => boolean): bigint =>
    memBanks.filter((b) => pred(b.heapType)).reduce((s, b) => s + b.sizeInBytes, 0n);
  return {
    id,
    kind: isGpu ? 'gpu' : 'cpu',
    isGpu,
    gpuId,
    name,
    properties: props,
    cpuCoresCount: num(props, 'cpu_cores_count'),
    simdCount,
    gfxTargetVersion,
    gfxTarget: isGpu ? gfxTargetName(gfxTargetVersion) : undefined,
    vendorId: num(props, 'vendor_id'),
    deviceId: num(props, 'device_id'),
    locationId,
    domain,
    pciAddress: isGpu ? pciAddress(domain, locationId) : undefined,
    drmRenderMinor: isGpu ? num(props, 'drm_render_minor') : undefined,
    hiveId: big(props, 'hive_id'),
    numXcc: props.num_xcc !== undefined ? num(props, 'num_xcc') : undefined,
    uniqueId: props.unique_id !== undefined ? big(props, 'unique_id') : undefined,
    localMemoryBytes: isGpu ? heapBytes((t) => t === 1 || t === 2) : heapBytes((t) => t === 0),
    capability,
    svmSupported: capability?.svmApiSupported ?? false,
    xnackPerProcess: isGpu && supportsPerProcessXnack(gfxTargetVersion),
    memBanks,
    ioLinks,
    p2pLinks,
    caches,
  };
}

function readOnce(r: Reader, attempt: number, withCaches: boolean): TopologyPresent {
  const genPath = 'generation_id';
  const gen0 = parseUint(r.need(genPath), genPath);
  const { props: sys } = parseProperties(r.need('system_properties'), 'system_properties');
  const nodeList = r.list('nodes');
  if (nodeList === undefined) throw new Vanished('nodes/ vanished');
  const warnings: string[] = [];
  const nodes: TopologyNode[] = [];
  const hiddenNodes: number[] = [];
  for (const id of numericEntries(nodeList)) {
    try {
      nodes.push(readNode(r, id, warnings, withCaches));
    } catch (e) {
      // The kernel denies only GPU nodes (dev->gpu): EPERM on a CPU node is something else, and fails.
      if (!deniedByCgroup(e) || isCpuNode(r, id)) throw e;
      hiddenNodes.push(id);
    }
  }
  const gen1 = parseUint(r.need(genPath), genPath);
  if (gen1 !== gen0) throw new Vanished(`generation_id changed from ${gen0} to ${gen1} during the read`);
  partitionPciAddresses(nodes);
  const result: TopologyPresent = {
    present: true,
    generationId: gen0,
    systemProperties: sys,
    platform: {
      oemId: oemString(big(sys, 'platform_id'), 6),
      oemTableId: oemString(big(sys, 'platform_oem'), 8),
      revision: num(sys, 'platform_rev'),
    },
    nodes,
    gpus: nodes.filter((n) => n.isGpu),
    hiddenNodes,
    attempts: attempt,
    warnings,
  };
  return withBigintJson(result);
}

/**
 * kfd_topology_add_device ORs the node_id into location_id when a device is split into several KFD nodes
 * (MI300X in DPX/QPX/CPX: kfd->num_nodes > 1), so such a node's location_id is not a PCI address. The nodes
 * of one device show the same adev->unique_id and differ only in those low bits; the lowest location_id of
 * the group (node_id 0) is the device's pci_dev_id, and every node of the group is at that address.
 */
function partitionPciAddresses(nodes: TopologyNode[]): void {
  const groups = new Map<string, TopologyNode[]>();
  for (const n of nodes) {
    if (!n.isGpu || !n.uniqueId) continue;
    const key = `${n.domain}/${n.uniqueId}/${n.locationId >> 3}`;
    const g = groups.get(key);
    if (g) g.push(n);
    else groups.set(key, [n]);
  }
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    const base = Math.min(...g.map((n) => n.locationId));
    for (const n of g) n.pciAddress = pciAddress(n.domain, base);
  }
}

/** A node file refused with EPERM: only the device cgroup check makes a topology file answer that. */
function deniedByCgroup(e: unknown): boolean {
  if (!(e instanceof TopologyReadError)) return false;
  const cause = e.cause as { errno?: unknown; code?: unknown } | null;
  return typeof cause === 'object' && cause !== null && (cause.code === 'EPERM' || cause.errno === 1);
}

function isCpuNode(r: Reader, id: number): boolean {
  try {
    return r.file(`nodes/${id}/gpu_id`)?.trim() === '0';
  } catch {
    return false;
  }
}

function absent(): TopologyAbsent {
  return { present: false, reason: NO_KFD_REASON, nodes: [], gpus: [] };
}

/**
 * Parses the KFD topology. A reader with no topology root gives `{ present: false, reason }`. Malformed
 * files throw ParseError; a tree that keeps changing throws TopologyUnstableError; a reader that fails
 * throws TopologyReadError. Nothing else is thrown.
 */
export function parseTopology(reader: TreeReader | undefined, opts: TopologyParseOptions = {}): TopologyResult {
  if (!reader) return absent();
  const r = new Reader(reader);
  const rootList = r.list('');
  if (rootList === undefined && r.file('generation_id') === undefined) return absent();
  // NaN or Infinity must not mean "never try" or "retry forever" on a tree that keeps changing.
  const asked = opts.maxAttempts ?? 5;
  const max = Number.isFinite(asked) ? Math.min(100, Math.max(1, Math.floor(asked))) : 5;
  const reasons: string[] = [];
  for (let attempt = 1; attempt <= max; attempt++) {
    try {
      return readOnce(r, attempt, opts.caches !== false);
    } catch (e) {
      if (!(e instanceof Vanished)) {
        if (e instanceof PlatformError) throw e;
        // A bug in a reader's return values (not strings) must still surface as our error type.
        throw new ParseError('topology', `unexpected failure: ${e instanceof Error ? e.message : String(e)}`);
      }
      reasons.push(e.reason);
    }
  }
  throw new TopologyUnstableError(max, reasons);
}

/** The GPU node with a gpu_id, if any. */
export function findGpu(t: TopologyPresent, gpuId: number): TopologyNode | undefined {
  return t.gpus.find((n) => n.gpuId === gpuId);
}
