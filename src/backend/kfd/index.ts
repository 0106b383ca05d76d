/**
 * The kernel backend: `openKfdBackend()` opens /dev/kfd through the native addon and implements the
 * Backend contract (src/backend/contract.ts) one addon call per method. `loadAddon()` loads the addon
 * (lazily; a failure is cached and explains itself).
 */
import type { Backend } from '../contract.js';
import { loadAddon } from './addon.js';
import {
  DEFAULT_DEVICE_PATH,
  DEFAULT_IOMEM_PATH,
  DEFAULT_RENDER_NODE_BASE,
  DEFAULT_SYSFS_ROOT,
  KfdBackend,
  type KfdBackendOptions,
} from './backend.js';
import { native } from './errors.js';

export { addonLoadError, loadAddon, packageRoot } from './addon.js';
export type {
  NativeAbi,
  NativeAddon,
  NativeDeviceHandle,
  NativeMapping,
  NativeMappingHandle,
  NativeSmiHandle,
} from './addon.js';
export { toKernelError } from './errors.js';
export { FsTreeReader } from './tree-reader.js';
export {
  DEFAULT_DEVICE_PATH,
  DEFAULT_IOMEM_PATH,
  DEFAULT_RENDER_NODE_BASE,
  DEFAULT_SYSFS_ROOT,
  KfdBackend,
  type KfdBackendOptions,
};

/**
 * Opens the KFD device. Throws the addon's load error if it cannot load, and a KernelError from open(2)
 * (ENOENT with a hint when there is no KFD, EACCES when the user lacks the render group).
 */
export function openKfdBackend(opts: KfdBackendOptions = {}): Backend {
  const full: Required<KfdBackendOptions> = {
    devicePath: opts.devicePath ?? DEFAULT_DEVICE_PATH,
    sysfsRoot: opts.sysfsRoot ?? DEFAULT_SYSFS_ROOT,
    iomemPath: opts.iomemPath ?? DEFAULT_IOMEM_PATH,
    renderNodeBase: opts.renderNodeBase ?? DEFAULT_RENDER_NODE_BASE,
  };
  const addon = loadAddon();
  const h = native(() => addon.kfdOpen(full.devicePath));
  return new KfdBackend(addon, h, full);
}
