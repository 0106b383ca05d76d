/**
 * What a Device knows about the machine, read from the backend's text surfaces (the KFD topology tree and
 * /proc/iomem) through the platform parsers: the same path for the kernel and the simulator.
 */
import type { MachineText } from './backend/contract.js';
import { PlatformError } from './platform/errors.js';
import { matchCoherentVram, parseIomem, type IomemResult } from './platform/iomem.js';
import { parseTopology, type TopologyNode } from './platform/topology.js';
import { SvmError } from './errors.js';
import type { Cpu, Gpu, SpmRange } from './gpu.js';

/** The machine as the Device presents it. */
export interface Machine {
  gpus: Gpu[];
  cpus: Cpu[];
  spmRanges: SpmRange[];
  notes: string[];
}

/** kfd_crat.c: the weight of an APU's GPU→CPU XGMI link (KFD_CRAT_INTRA_SOCKET_WEIGHT). */
const INTRA_SOCKET_WEIGHT = 13;

/**
 * An APU's GPU node: kfd_fill_gpu_direct_io_link_to_cpu gives a GC 9.4.3 APU an XGMI link to its CPU
 * with the intra-socket weight (13), where a discrete GPU on a coherent link gets the XGMI weight. The
 * topology has no APU bit, so this is the kernel's own distinction as it writes it.
 */
function isApu(n: TopologyNode, cpuIds: ReadonlySet<number>): boolean {
  return n.ioLinks.some((l) => l.typeName === 'xgmi' && cpuIds.has(l.nodeTo) && l.weight === INTRA_SOCKET_WEIGHT);
}

function parseError(what: string, e: unknown): SvmError {
  return new SvmError('EPARSE', `reading the ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** Reads the machine. Throws SvmError 'EPARSE' when the topology cannot be read; iomem problems are notes. */
export function discoverMachine(text: MachineText): Machine {
  const notes: string[] = [];
  let topo;
  try {
    // The device model needs no cache entries; skipping them makes a parse ~30x cheaper (hundreds of
    // caches/ directories per GPU), which lets open() read the machine afresh on every call.
    topo = parseTopology(text.topology, { caches: false });
  } catch (e) {
    if (e instanceof PlatformError) throw parseError('KFD topology', e);
    throw e;
  }
  if (!topo.present) return { gpus: [], cpus: [], spmRanges: [], notes: [topo.reason] };
  notes.push(...topo.warnings);
  if (topo.hiddenNodes.length > 0) {
    notes.push(
      `${topo.hiddenNodes.length} GPU node(s) (sysfs ${topo.hiddenNodes.join(', ')}) are hidden from this process by its ` +
        'device cgroup (a batch system giving the job only some GPUs): they are left out.',
    );
  }

  let iomem: IomemResult | undefined;
  try {
    const t = text.iomem();
    if (t !== undefined) iomem = parseIomem(t);
  } catch (e) {
    if (!(e instanceof PlatformError)) throw e;
    notes.push(`/proc/iomem could not be parsed: ${e.message}`);
  }
  if (iomem?.addressesHidden && iomem.hint) notes.push(iomem.hint);

  const cpuNodes = topo.nodes.filter((n) => !n.isGpu);
  const cpuIds = new Set(cpuNodes.map((n) => n.id));
  const hostCoherent = (n: TopologyNode): boolean => n.capability?.coherentHostAccess === true;
  const matches = iomem
    ? matchCoherentVram(
        iomem,
        topo.gpus.filter((n) => hostCoherent(n) && !isApu(n, cpuIds)).map((n) => ({ gpuId: n.gpuId, vramBytes: n.localMemoryBytes })),
      )
    : [];
  const matched = new Set(matches.map((m) => m.gpuId));

  const gpus: Gpu[] = topo.gpus.map((n) =>
    Object.freeze({
      gpuId: n.gpuId,
      nodeId: n.id,
      name: n.name,
      gfxTarget: n.gfxTarget ?? 'unknown',
      vramBytes: Number(n.localMemoryBytes),
      coherent: hostCoherent(n) || matched.has(n.gpuId),
      apu: isApu(n, cpuIds),
      xnackCapable: n.xnackPerProcess,
      svmCapable: n.svmSupported,
      pciAddress: n.pciAddress ?? '',
      drmRenderMinor: n.drmRenderMinor ?? 0,
    }),
  );
  const byId = new Map(gpus.map((g) => [g.gpuId, g]));
  const ownerOf = new Map(matches.map((m) => [m.range, byId.get(m.gpuId)]));
  const spmRanges: SpmRange[] = (iomem?.softReserved ?? []).map((s) =>
    Object.freeze({
      start: s.bounds?.start,
      size: s.bounds?.size,
      gpu: ownerOf.get(s),
      children: Object.freeze([...s.daxDevices, ...(s.onlinedAsKmem ? ['System RAM (kmem)'] : [])]),
    }),
  );
  const cpus: Cpu[] = cpuNodes.map((n) =>
    Object.freeze({ nodeId: n.id, name: n.name, cores: n.cpuCoresCount, memoryBytes: Number(n.localMemoryBytes) }),
  );
  return { gpus, cpus, spmRanges, notes };
}
