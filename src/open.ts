/**
 * open(): choose the backend, read the machine, acquire the GPU VMs as the ROCm runtime does, and hand
 * back a Device. `auto` uses the kernel when /dev/kfd can be used and falls back to the simulator
 * otherwise, saying why in `device.fallbackReason`.
 */
import { constants as fsc, accessSync, readFileSync, statSync } from 'node:fs';
import type { Backend } from './backend/contract.js';
import { isKernelError } from './backend/errors.js';
import { openKfdBackend, loadAddon } from './backend/kfd/index.js';
import { createSimBackend } from './backend/sim/index.js';
import type { MachineProfile } from './platform/profile-types.js';
import { Device } from './device.js';
import { discoverMachine } from './discover.js';
import { SvmError, toSvmError } from './errors.js';
import { describe } from './gpu.js';

/** Which backend `open()` uses. */
export type BackendChoice = 'auto' | 'kfd' | 'sim';

/** Options of {@link open}. Options win over the environment. */
export interface OpenOptions {
  /**
   * 'kfd' (the kernel; fails with an SvmError when it cannot be used), 'sim' (the simulator), or 'auto'
   * (the kernel when /dev/kfd can be used, else the simulator). Default: env `KFD_SVM_BACKEND`, else 'auto'.
   */
  backend?: BackendChoice;
  /**
   * The simulator's machine: a profile id ('mi250x' (default), 'mi210', 'mi300a', 'mi300x', 'cpu-only')
   * or a MachineProfile. Default: env `KFD_SVM_PROFILE`. Ignored by the kernel backend.
   */
  profile?: string | MachineProfile;
  /** The KFD device node (default /dev/kfd). */
  devicePath?: string;
  /** The KFD topology root (default /sys/class/kfd/kfd/topology). */
  sysfsRoot?: string;
  /** The iomem listing (default /proc/iomem). */
  iomemPath?: string;
}

const DEFAULT_DEVICE = '/dev/kfd';
const CHOICES: readonly BackendChoice[] = ['auto', 'kfd', 'sim'];

/** The open kernel Device of this process, if any. */
let kernelDevice: Device | undefined;

/** Why the kernel cannot be used; `auto` turns it into `fallbackReason`, `kfd` into the thrown error. */
class KernelUnusable extends Error {
  constructor(readonly error: SvmError) {
    super(error.message);
  }
}

/**
 * Opens a device.
 *
 * @example
 * ```ts
 * await using device = await open();               // the kernel if it can, else the simulator
 * console.log(device.backend, device.fallbackReason, device.gpus.map((g) => g.name));
 * ```
 * @throws SvmError 'EARG' for bad options or an unknown profile; with `backend: 'kfd'`, 'ENODEV' (no
 * /dev/kfd), 'EACCES' (permission; the hint names the group to join), 'ENOSVM' (kernel without SVM),
 * 'EBACKEND' (addon failed to load).
 */
export async function open(options: OpenOptions = {}): Promise<Device> {
  if (typeof options !== 'object' || options === null) {
    throw new SvmError('EARG', `open: expected an options object, got ${describe(options)}`);
  }
  const env = process.env;
  const choice = (options.backend ?? (env.KFD_SVM_BACKEND || undefined) ?? 'auto') as BackendChoice;
  if (!CHOICES.includes(choice)) {
    throw new SvmError('EARG', `open: backend must be one of ${CHOICES.join(', ')}, got ${describe(choice)}`, {
      hint: options.backend === undefined ? 'Check the KFD_SVM_BACKEND environment variable.' : undefined,
    });
  }
  const profile = options.profile ?? (env.KFD_SVM_PROFILE || undefined);

  if (choice === 'sim') return simDevice(profile, undefined);
  // kfd_create_process: every open of /dev/kfd in a process shares ONE kernel process context (its SVM
  // ranges, XNACK mode, GPU VMs), and a second ACQUIRE_VM with another render-node file is EBUSY
  // (kfd_ioctl_acquire_vm). So the kernel gets one Device per process at a time.
  if (kernelDevice && !kernelDevice.closed) {
    throw new SvmError('EBUSY', 'open: a kfd Device is already open in this process', {
      hint: 'The kernel keeps one KFD context per process: share the open Device, or close it before opening another.',
    });
  }
  try {
    // `auto` wants a kernel it can use: one with a GPU that supports SVM. An explicit 'kfd' opens even a
    // GPU-less KFD (GET works there; every SET is refused), which conformance runs in QEMU need.
    return buildDevice(openKernel(options), undefined, choice === 'auto');
  } catch (e) {
    if (!(e instanceof KernelUnusable)) throw e;
    if (choice === 'kfd') throw e.error;
    return simDevice(profile, e.error.message);
  }
}

function simDevice(profile: string | MachineProfile | undefined, fallbackReason: string | undefined): Device {
  try {
    return buildDevice(openSim(profile), fallbackReason, false);
  } catch (e) {
    throw e instanceof KernelUnusable ? e.error : e;
  }
}

function openSim(profile: string | MachineProfile | undefined): Backend {
  try {
    return createSimBackend(profile === undefined ? {} : { profile });
  } catch (e) {
    if (e instanceof SvmError) throw e;
    throw new SvmError('EARG', `open: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      hint: 'Pick a profile id from the list (or unset KFD_SVM_PROFILE).',
    });
  }
}

/** The group owning a device node, by name from /etc/group (or its gid). */
export function groupOf(path: string): string | undefined {
  let gid: number;
  try {
    gid = statSync(path).gid;
  } catch {
    return undefined;
  }
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id !== undefined && Number(id) === gid) return name;
    }
  } catch {
    // No /etc/group: name the gid.
  }
  return String(gid);
}

function unusable(code: 'ENODEV' | 'EACCES' | 'ENOSVM' | 'ENOGPU' | 'EBACKEND', message: string, hint?: string, cause?: unknown): KernelUnusable {
  return new KernelUnusable(new SvmError(code, message, { hint, cause }));
}

/** The kernel path: device node, addon, SVM support. Throws KernelUnusable. */
function openKernel(options: OpenOptions): Backend {
  const devicePath = options.devicePath ?? DEFAULT_DEVICE;
  try {
    statSync(devicePath);
  } catch {
    throw unusable('ENODEV', `no ${devicePath} device node (the amdgpu driver is not loaded, or there is no AMD GPU)`);
  }
  try {
    accessSync(devicePath, fsc.R_OK | fsc.W_OK);
  } catch (e) {
    const group = groupOf(devicePath) ?? 'render';
    throw unusable(
      'EACCES',
      `permission denied on ${devicePath}: join the '${group}' group`,
      `Run: sudo usermod -aG ${group} $USER, then log in again.`,
      e,
    );
  }
  try {
    loadAddon();
  } catch (e) {
    throw unusable('EBACKEND', `the native addon failed to load: ${e instanceof Error ? e.message : String(e)}`, undefined, e);
  }
  let backend: Backend;
  try {
    backend = openKfdBackend({
      devicePath,
      ...(options.sysfsRoot === undefined ? {} : { sysfsRoot: options.sysfsRoot }),
      ...(options.iomemPath === undefined ? {} : { iomemPath: options.iomemPath }),
    });
  } catch (e) {
    const err = toSvmError(e, { op: `open ${devicePath}`, group: groupOf(devicePath) });
    if (isKernelError(e)) throw new KernelUnusable(err);
    throw unusable('EBACKEND', `the kfd backend failed to open: ${err.message}`, undefined, e);
  }
  // GET_VERSION first: a node that is not KFD answers ENOTTY; SVM arrived with ioctl version 1.5.
  try {
    const v = backend.version();
    if (v.major < 1 || (v.major === 1 && v.minor < 5)) {
      backend.close();
      throw unusable('ENOSVM', `the KFD ioctl interface ${v.major}.${v.minor} predates SVM (1.5)`);
    }
  } catch (e) {
    if (e instanceof KernelUnusable) throw e;
    backend.close();
    const err = toSvmError(e, { op: `GET_VERSION on ${devicePath}` });
    if (err.code === 'ENOTTY') {
      throw new KernelUnusable(
        new SvmError('ENODEV', `${devicePath} is not a KFD device (GET_VERSION: ENOTTY)`, {
          ...err,
          hint: 'Point devicePath at the KFD character device (/dev/kfd), or leave it unset.',
        }),
      );
    }
    throw new KernelUnusable(err);
  }
  // A kernel without CONFIG_HSA_AMD_SVM answers EPERM to the XNACK query (kfd_chardev.c compiles stubs).
  try {
    backend.getXnack();
  } catch (e) {
    backend.close();
    const err = toSvmError(e, { op: 'xnack query' });
    const message = err.code === 'ENOSVM' ? `the kernel has no SVM support (${err.message})` : err.message;
    throw new KernelUnusable(new SvmError(err.code, message, err));
  }
  return backend;
}

/**
 * Reads the machine and acquires the VMs, on the kernel and the sim alike, then builds the Device. Closes
 * the backend on any failure.
 */
function buildDevice(backend: Backend, fallbackReason: string | undefined, requireSvmGpu: boolean): Device {
  try {
    const machine = discoverMachine(backend.machine);
    if (requireSvmGpu && !machine.gpus.some((g) => g.svmCapable)) {
      throw unusable(
        'ENOGPU',
        machine.gpus.length === 0 ? 'the KFD topology lists no GPU' : 'no GPU of the KFD topology supports SVM',
      );
    }
    const vmGpuIds: number[] = [];
    // As the ROCm runtime does (hsaKmtOpenKFD, then per GPU node: open /dev/dri/renderD<minor> and
    // AMDKFD_IOC_ACQUIRE_VM): the kernel refuses every SVM SET until a GPU VM exists.
    for (const gpu of machine.gpus) {
      if (!gpu.svmCapable) continue;
      try {
        backend.acquireVm(gpu.gpuId, gpu.drmRenderMinor);
      } catch (e) {
        const node = `/dev/dri/renderD${gpu.drmRenderMinor}`;
        const group = groupOf(node) ?? 'render';
        const err = toSvmError(e, { op: `acquire the VM of GPU ${gpu.gpuId} (${node})`, group });
        throw new KernelUnusable(
          err.code === 'EACCES'
            ? new SvmError('EACCES', `permission denied on ${node}: join the '${group}' group`, err)
            : err,
        );
      }
      vmGpuIds.push(gpu.gpuId);
    }
    const device = new Device({
      backend,
      ...machine,
      vmGpuIds,
      fallbackReason,
      onClosed: () => {
        if (kernelDevice === device) kernelDevice = undefined;
      },
    });
    if (backend.kind === 'kfd') kernelDevice = device;
    return device;
  } catch (e) {
    backend.close();
    if (e instanceof KernelUnusable) throw e;
    throw toSvmError(e, { op: 'open' });
  }
}
