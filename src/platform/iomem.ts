/**
 * /proc/iomem: the kernel's resource tree as kernel/resource.c r_show() writes it,
 * `"%*s%0*llx-%0*llx : %s\n"` with two spaces of indent per level (depth capped at MAX_IORES_LEVEL = 5),
 * bounds in lowercase hex zero-padded to 8 digits, the end inclusive, and the resource name verbatim
 * (spaces, colons and parentheses included). A reader without CAP_SYS_ADMIN gets 0 for every bound.
 *
 * Besides the tree, the parser picks out what kfd-svm needs: the special-purpose ("Soft Reserved") ranges
 * that hold coherent VRAM (EFI_MEMORY_SP → `hmem.N` → `Soft Reserved` → `daxX.Y` → `System RAM (kmem)`)
 * and the device-private ranges drivers take with request_free_mem_region() (named after the device:
 * amdgpu's devm_request_free_mem_region uses dev_name(), the PCI address; test_hmm uses "hmm_dmirror").
 */
import { ParseError } from './errors.js';
import { withBigintJson } from './bigint-json.js';

/** r_show's MAX_IORES_LEVEL: deeper resources are printed at this depth. */
export const MAX_IORES_LEVEL = 5;

export type IomemKind =
  | 'system-ram'
  | 'kernel'
  | 'kmem'
  | 'soft-reserved'
  | 'hmem'
  | 'dax'
  | 'device-private'
  | 'pci-bus'
  | 'pci-device'
  | 'reserved'
  | 'other';

export interface IomemBounds {
  start: bigint;
  /** Inclusive, as printed. */
  end: bigint;
  size: bigint;
}

export interface RangeOwner {
  /**
   * 'dddd:bb:dd.f' of the device the range belongs to: its own name, an ancestor's, or the one device
   * every child range belongs to (a bridge window holding one GPU's BARs).
   */
  pciAddress?: string;
  /** 'dddd:bb' for a `PCI Bus dddd:bb` window. */
  pciBus?: string;
  /** NUMA node, for dax / kmem ranges when the caller supplied the dax devices' target_node. */
  numaNode?: number;
  /** The dax device over this range (`daxX.Y`). */
  daxDevice?: string;
  /** The `hmem.N` platform device above a Soft Reserved range. */
  hmemDevice?: string;
}

export interface IomemRange {
  name: string;
  /** undefined when the reader could not see addresses (addressesHidden): never a made-up zero range. */
  bounds: IomemBounds | undefined;
  depth: number;
  /** 1-based line number. */
  line: number;
  kind: IomemKind;
  owner: RangeOwner;
  children: IomemRange[];
}

export interface SpecialPurposeRange {
  /** The `Soft Reserved` range itself. */
  range: IomemRange;
  bounds: IomemBounds | undefined;
  hmemDevice: string | undefined;
  daxDevices: string[];
  /** Some of it is onlined as system RAM by the kmem driver (`System RAM (kmem)`). */
  onlinedAsKmem: boolean;
  numaNode: number | undefined;
}

export interface DevicePrivateRange {
  range: IomemRange;
  bounds: IomemBounds | undefined;
  /** The resource name: a PCI address for amdgpu, 'hmm_dmirror' for test_hmm, or a driver name. */
  owner: string;
  pciAddress: string | undefined;
}

export interface IomemResult {
  /** Top-level ranges, each with its children. */
  ranges: IomemRange[];
  lineCount: number;
  /** Every bound read as zero: the reader lacks CAP_SYS_ADMIN. */
  addressesHidden: boolean;
  /** What to do about hidden addresses; set only when addressesHidden. */
  hint: string | undefined;
  softReserved: SpecialPurposeRange[];
  devicePrivate: DevicePrivateRange[];
  /** Sum of top-level `System RAM` sizes (undefined when hidden). */
  systemRamBytes: bigint | undefined;
}

export interface IomemParseOptions {
  /** /sys/bus/dax/devices/<daxX.Y>/target_node values, to tie dax and kmem ranges to NUMA nodes. */
  daxTargetNodes?: Readonly<Record<string, number>>;
}

export const HIDDEN_ADDRESSES_HINT =
  '/proc/iomem shows every address as 0 to readers without CAP_SYS_ADMIN: run as root (or grant ' +
  'CAP_SYS_ADMIN) to see the Soft Reserved and device-private ranges';

const LINE_RE = /^( *)([0-9a-f]{1,16})-([0-9a-f]{1,16}) : (.*)$/s;
const PCI_ADDR_RE = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
const PCI_BUS_RE = /^PCI Bus ([0-9a-f]{4,8}:[0-9a-f]{2})$/;
const KERNEL_NAMES = new Set(['Kernel code', 'Kernel rodata', 'Kernel data', 'Kernel bss']);

export function isPciAddress(name: string): boolean {
  return PCI_ADDR_RE.test(name);
}

function classify(name: string, depth: number): IomemKind {
  switch (name) {
    case 'System RAM':
      return 'system-ram';
    case 'System RAM (kmem)':
      return 'kmem';
    case 'Soft Reserved':
      return 'soft-reserved';
    case 'Reserved':
      return 'reserved';
    default:
      break;
  }
  if (KERNEL_NAMES.has(name)) return 'kernel';
  const c = name.charCodeAt(0);
  if (c === 104 /* h */ && /^hmem\.\d+$/.test(name)) return 'hmem';
  if (c === 100 /* d */ && /^dax\d+\.\d+$/.test(name)) return 'dax';
  if (c === 80 /* P */ && PCI_BUS_RE.test(name)) return 'pci-bus';
  const pci = c >= 48 && c <= 102 && PCI_ADDR_RE.test(name);
  // Only request_free_mem_region() puts a device's range straight under the root; BARs sit inside a
  // `PCI Bus` window.
  if (depth === 0 && (pci || name === 'hmm_dmirror' || name === 'amdgpu')) return 'device-private';
  if (pci) return 'pci-device';
  return 'other';
}

/**
 * Parses /proc/iomem text. Throws ParseError for text that is not an iomem listing (a malformed line, a
 * jump of more than one nesting level, a bound over 64 bits, start > end, a child outside its parent).
 * An empty text is an empty listing.
 */
export function parseIomem(text: string, options: IomemParseOptions = {}): IomemResult {
  if (typeof text !== 'string') throw new ParseError('iomem', 'input is not a string');
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  const roots: IomemRange[] = [];
  // The open ranges from the root down to the last one, with their raw bounds.
  const stack: IomemRange[] = [];
  const starts: bigint[] = [];
  const ends: bigint[] = [];
  let allZero = true;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const m = LINE_RE.exec(l);
    if (!m) throw new ParseError('iomem', 'not an iomem line ("start-end : name")', { line: i + 1, raw: l });
    const indent = m[1]!.length;
    if (indent % 2 !== 0) throw new ParseError('iomem', 'odd indentation', { line: i + 1, raw: l });
    const depth = indent / 2;
    const start = hexValue(m[2]!);
    const end = hexValue(m[3]!);
    if (start > end) throw new ParseError('iomem', 'range start is above its end', { line: i + 1, raw: l });
    if (start !== 0n || end !== 0n) allZero = false;
    if (depth > stack.length) {
      throw new ParseError('iomem', `nesting jumps from depth ${stack.length - 1} to ${depth}`, { line: i + 1, raw: l });
    }
    stack.length = depth;
    starts.length = depth;
    ends.length = depth;
    const parent = stack[depth - 1];
    // A listing with hidden addresses is all zeros, so this check passes for it.
    if (parent && (start < starts[depth - 1]! || end > ends[depth - 1]!)) {
      throw new ParseError('iomem', `range lies outside its parent "${parent.name}"`, { line: i + 1, raw: l });
    }
    const name = m[4]!;
    const node: IomemRange = {
      name,
      bounds: { start, end, size: end - start + 1n },
      depth,
      line: i + 1,
      kind: classify(name, depth),
      owner: {},
      children: [],
    };
    if (parent) parent.children.push(node);
    else roots.push(node);
    stack.push(node);
    starts.push(start);
    ends.push(end);
  }
  const hidden = lines.length > 0 && allZero;
  if (hidden) for (const r of walkIomem(roots)) r.bounds = undefined;

  const result: IomemResult = {
    ranges: roots,
    lineCount: lines.length,
    addressesHidden: hidden,
    hint: hidden ? HIDDEN_ADDRESSES_HINT : undefined,
    softReserved: [],
    devicePrivate: [],
    systemRamBytes: hidden ? undefined : 0n,
  };
  for (const r of roots) annotate(r, undefined, options, result);
  return withBigintJson(result);
}

/** Hex digits (at most 16, checked by the line pattern) as a bigint; short ones go through a number. */
function hexValue(digits: string): bigint {
  return digits.length <= 13 ? BigInt(parseInt(digits, 16)) : BigInt(`0x${digits}`);
}

function annotate(r: IomemRange, parent: IomemRange | undefined, options: IomemParseOptions, out: IomemResult): void {
  // Owners flow down from ancestors (a driver's child range under a BAR belongs to that device).
  if (parent?.owner.pciAddress) r.owner.pciAddress = parent.owner.pciAddress;
  if (parent?.owner.numaNode !== undefined) r.owner.numaNode = parent.owner.numaNode;
  if (parent?.owner.daxDevice) r.owner.daxDevice = parent.owner.daxDevice;
  if (parent?.owner.hmemDevice) r.owner.hmemDevice = parent.owner.hmemDevice;
  if ((r.kind === 'pci-device' || r.kind === 'device-private') && isPciAddress(r.name)) r.owner.pciAddress = r.name;
  if (r.kind === 'pci-bus') r.owner.pciBus = r.name.slice('PCI Bus '.length);
  if (r.kind === 'hmem') r.owner.hmemDevice = r.name;
  if (r.kind === 'dax') {
    r.owner.daxDevice = r.name;
    const node = options.daxTargetNodes?.[r.name];
    if (node !== undefined) r.owner.numaNode = node;
  }
  if (r.kind === 'system-ram' && r.depth === 0 && r.bounds && out.systemRamBytes !== undefined) {
    out.systemRamBytes += r.bounds.size;
  }
  for (const c of r.children) annotate(c, r, options, out);
  if (!r.owner.pciAddress && r.children.length > 0) {
    // A window whose ranges all belong to one device (a bridge with one GPU's BARs) belongs to it too.
    const only = r.children[0]!.owner.pciAddress;
    if (only && r.children.every((c) => c.owner.pciAddress === only)) r.owner.pciAddress = only;
  }

  if (r.kind === 'soft-reserved') {
    const dax = r.children.filter((c) => c.kind === 'dax');
    const kmem = dax.some((d) => d.children.some((k) => k.kind === 'kmem')) ||
      r.children.some((c) => c.kind === 'kmem');
    const numa = dax.map((d) => d.owner.numaNode).find((n) => n !== undefined);
    if (numa !== undefined) r.owner.numaNode = numa;
    out.softReserved.push({
      range: r,
      bounds: r.bounds,
      hmemDevice: r.owner.hmemDevice,
      daxDevices: dax.map((d) => d.name),
      onlinedAsKmem: kmem,
      numaNode: numa,
    });
  }
  if (r.kind === 'device-private') {
    out.devicePrivate.push({
      range: r,
      bounds: r.bounds,
      owner: r.name,
      pciAddress: isPciAddress(r.name) ? r.name : undefined,
    });
  }
}

/** A range to write: what the formatter needs, and what tests and generators build. */
export interface IomemEntry {
  start: bigint;
  end: bigint;
  name: string;
  children?: IomemEntry[];
}

/**
 * Writes entries in r_show's format. With hideAddresses, every bound is written as 0, as a reader
 * without CAP_SYS_ADMIN sees them. Depth is capped at MAX_IORES_LEVEL, as the kernel does.
 */
export function formatIomem(entries: readonly IomemEntry[], opts: { hideAddresses?: boolean } = {}): string {
  const out: string[] = [];
  const hex = (v: bigint): string => (opts.hideAddresses ? 0n : v).toString(16).padStart(8, '0');
  const walk = (list: readonly IomemEntry[], depth: number): void => {
    for (const e of list) {
      const d = Math.min(depth, MAX_IORES_LEVEL);
      out.push(`${' '.repeat(d * 2)}${hex(e.start)}-${hex(e.end)} : ${e.name}\n`);
      if (e.children) walk(e.children, depth + 1);
    }
  };
  walk(entries, 0);
  return out.join('');
}

/** Parsed ranges back to entries (hidden bounds become 0, as they were read). */
export function rangesToEntries(ranges: readonly IomemRange[]): IomemEntry[] {
  return ranges.map((r) => ({
    start: r.bounds?.start ?? 0n,
    end: r.bounds?.end ?? 0n,
    name: r.name,
    children: rangesToEntries(r.children),
  }));
}

/** Every range, depth first. */
export function* walkIomem(ranges: readonly IomemRange[]): Generator<IomemRange> {
  for (const r of ranges) {
    yield r;
    yield* walkIomem(r.children);
  }
}

export interface CoherentVramMatch {
  gpuId: number;
  range: SpecialPurposeRange;
  /** How the pairing was made: iomem never names the GPU that owns a Soft Reserved range. */
  basis: 'size-and-order';
}

/**
 * Pairs Soft Reserved ranges with coherent GPUs. iomem does not say which GPU owns which range (the
 * firmware lists the VRAM aperture as EFI_MEMORY_SP; amdgpu maps it with devm_memremap_pages without a
 * named resource), so the pairing is inferred: ranges whose size equals the GPU's VRAM (rounded up to
 * 2 MiB as kgd2kfd_init_zone_device does), in ascending address order, to GPUs in topology node order.
 * Returns [] when addresses are hidden, because sizes are then unknown.
 */
export function matchCoherentVram(iomem: IomemResult, gpus: readonly { gpuId: number; vramBytes: bigint }[]): CoherentVramMatch[] {
  if (iomem.addressesHidden) return [];
  const free = iomem.softReserved
    .filter((s) => s.bounds !== undefined)
    .sort((a, b) => (a.bounds!.start < b.bounds!.start ? -1 : 1));
  const used = new Set<SpecialPurposeRange>();
  const out: CoherentVramMatch[] = [];
  const align2m = (v: bigint): bigint => ((v + 0x1fffffn) / 0x200000n) * 0x200000n;
  for (const g of gpus) {
    const want = align2m(g.vramBytes);
    const hit = free.find((s) => !used.has(s) && s.bounds!.size === want);
    if (!hit) continue;
    used.add(hit);
    out.push({ gpuId: g.gpuId, range: hit, basis: 'size-and-order' });
  }
  return out;
}
