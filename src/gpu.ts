/**
 * The typed view of the machine's GPUs and CPUs that a Device hands out. Built once at open from the
 * topology tree and /proc/iomem (src/platform parsers); the objects are frozen and stable for the life of
 * the Device, so they can be compared with `===` and used as Map keys.
 */
import { SvmError } from './errors.js';

/** One GPU of the machine, as KFD's topology and /proc/iomem describe it. */
export interface Gpu {
  /** The kernel's gpu_id: what every SVM ioctl names a GPU by. */
  readonly gpuId: number;
  /** The topology node index (`/sys/class/kfd/kfd/topology/nodes/<nodeId>`). */
  readonly nodeId: number;
  /** The ASIC name the kernel writes in the topology node's `name` file, e.g. 'aldebaran'. */
  readonly name: string;
  /** The gfx target, e.g. 'gfx90a'. */
  readonly gfxTarget: string;
  /** Local memory (VRAM/HBM) in bytes. */
  readonly vramBytes: number;
  /**
   * True when the CPU–GPU link is coherent and VRAM is host-addressable (xgmi connected_to_cpu: VRAM is
   * listed as Soft Reserved memory and migrated pages are MEMORY_DEVICE_COHERENT, read by the CPU in place).
   * False for PCIe GPUs, whose VRAM pages are MEMORY_DEVICE_PRIVATE (a CPU touch migrates them back).
   */
  readonly coherent: boolean;
  /**
   * An APU (MI300A): GPU and CPU share one memory, so a prefetch to the GPU migrates nothing
   * (svm_range_best_prefetch_location answers system memory for an APU).
   */
  readonly apu: boolean;
  /** The GPU can run with XNACK (retry on page fault) enabled. */
  readonly xnackCapable: boolean;
  /** The GPU supports the SVM API (HSA_CAP_SVMAPI_SUPPORTED). */
  readonly svmCapable: boolean;
  /** PCI address, 'dddd:bb:dd.f'. */
  readonly pciAddress: string;
  /** The render node minor: /dev/dri/renderD<drmRenderMinor>. */
  readonly drmRenderMinor: number;
}

/** One CPU node of the topology. */
export interface Cpu {
  /** The topology node index. */
  readonly nodeId: number;
  /** Model name, when the topology gives one. */
  readonly name: string;
  /** Cores on this node. */
  readonly cores: number;
  /** System memory attached to the node, bytes. */
  readonly memoryBytes: number;
}

/** A special-purpose memory range ("Soft Reserved" in /proc/iomem): coherent VRAM of a GPU. */
export interface SpmRange {
  /** Physical start address; undefined when /proc/iomem hides addresses (no CAP_SYS_ADMIN). */
  readonly start: bigint | undefined;
  /** Size in bytes; undefined when addresses are hidden. */
  readonly size: bigint | undefined;
  /** The GPU whose VRAM this is, where that can be known. */
  readonly gpu: Gpu | undefined;
  /** The iomem children under the range, e.g. 'dax0.0' or 'System RAM (kmem)'. */
  readonly children: readonly string[];
}

/** A GPU given by object or by gpu_id. */
export type GpuRef = Gpu | number;

/**
 * Resolves a GpuRef against the device's GPUs, or throws EUNKNOWNGPU. A Gpu object from another Device
 * of the same machine resolves by its gpuId (gpu_ids are the kernel's names, stable across opens).
 */
export function resolveGpu(gpus: readonly Gpu[], ref: unknown, what = 'GPU'): Gpu {
  const id = typeof ref === 'number' ? ref : isGpuLike(ref) ? ref.gpuId : undefined;
  if (id === undefined) {
    throw new SvmError('EARG', `${what}: expected a Gpu from device.gpus or a gpu_id number, got ${describe(ref)}`);
  }
  const gpu = gpus.find((g) => g.gpuId === id);
  if (!gpu) {
    const known = gpus.length ? gpus.map((g) => `${g.gpuId} (${g.name})`).join(', ') : 'none';
    throw new SvmError('EUNKNOWNGPU', `${what}: no GPU with gpu_id ${id} on this device (GPUs: ${known})`);
  }
  return gpu;
}

function isGpuLike(v: unknown): v is { gpuId: number } {
  return typeof v === 'object' && v !== null && typeof (v as { gpuId?: unknown }).gpuId === 'number';
}

/** A short printable description of an arbitrary argument, for error messages. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v !== 'object') return String(v);
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}
