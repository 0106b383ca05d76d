/**
 * The native addon: its exact surface (the `NativeAddon` type) and `loadAddon()`, which finds it the way
 * node-gyp-build does (build/Release first, then prebuilds/<platform>-<arch>/) from the package root.
 *
 * `KFD_SVM_NATIVE_PATH=/path/to/kfd_svm.node` loads a specific binary instead (a cmake-js or sanitizer
 * build). Loading happens on first use, never at import, so the simulator works where the addon cannot
 * load; a failure is cached and thrown again with the same reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessAperture, SvmAttribute } from '../contract.js';

declare const deviceBrand: unique symbol;
declare const mappingBrand: unique symbol;
declare const smiBrand: unique symbol;
/** An open /dev/kfd (a type-tagged External; passing any other value throws TypeError). */
export type NativeDeviceHandle = { readonly [deviceBrand]: true };
/** An mmap'ed allocation. */
export type NativeMappingHandle = { readonly [mappingBrand]: true };
/** An SMI event fd. */
export type NativeSmiHandle = { readonly [smiBrand]: true };

/** `native/constants.cc`: the numbers the addon was compiled with (from native/kfd_abi.h). */
export interface NativeAbi {
  headerVersion: { major: number; minor: number };
  ioctl: Record<string, number>;
  sizeof: Record<string, number>;
  offsetof: Record<string, number>;
  SvmOp: Record<string, number>;
  SvmAttrType: Record<string, number>;
  SvmFlag: Record<string, number>;
  SvmLocation: Record<string, number>;
  SmiEvent: Record<string, number>;
  MigrateTrigger: Record<string, number>;
  QueueEvictionTrigger: Record<string, number>;
  UnmapTrigger: Record<string, number>;
  svmMaxAttrs: number;
  smiEventMsgSize: number;
}

export interface NativeMapping {
  handle: NativeMappingHandle;
  /**
   * External ArrayBuffer over the mapping (no copy); detached by memFree. null where the runtime forbids
   * external buffers (napi_no_external_buffers_allowed: Electron 21+), or in a build with
   * NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED: the memory is mapped all the same, and memRead/memWrite reach it.
   */
  buffer: ArrayBuffer | null;
  address: bigint;
  /** Bytes mapped: the request rounded up to whole pages. */
  size: number;
}

/**
 * Everything the addon exports. Failed system calls throw (or reject with) an Error carrying `code`,
 * `errno` (positive), `syscall`, `request` and `kfdSvmSyscallError: true`; bad arguments throw
 * TypeError/RangeError. Sync unless it returns a Promise.
 *
 * Errno mode: the per-operation ioctl calls (kfdGetVersion, kfdGetProcessApertures, kfdSetXnackMode,
 * kfdAvailableMemory, kfdSvmSync, kfdSvmAsync) take an optional trailing `returnErrno: true`. With it, a
 * refused ioctl, and a closed handle's EBADF, come back as -errno (a negative Number) instead of being
 * thrown (the async call resolves with it instead of rejecting), and the caller builds the one error it
 * throws (src/backend/kfd/errors.ts). Thrown, the refusal cost 11-16 µs (a C++ exception, an Error with a
 * captured stack, then a second Error here); returned, about what a successful call costs. Anything but
 * exactly `true` in that place leaves the call throwing. Argument errors throw in both modes.
 */
export interface NativeAddon {
  /** sha256 of the native sources this binary was built from (native/source-files.mjs). */
  readonly sourceHash: string;
  readonly buildSystem: 'node-gyp' | 'cmake-js';
  readonly napiVersion: number;
  readonly pageSize: number;
  readonly abi: NativeAbi;
  /** The SVM request number for nattr attributes: AMDKFD_IOC_SVM + ((nattr * 8) << _IOC_SIZESHIFT). */
  abiSvmRequest(nattr: number): number;

  /** open(path, O_RDWR | O_CLOEXEC). ENOENT/EACCES errors carry a hint. */
  kfdOpen(path: string): NativeDeviceHandle;
  /**
   * Idempotent; closes /dev/kfd once no SVM call still runs on it. The render nodes stay open for the life
   * of the process: the kernel keeps the DRM file a GPU VM was acquired with (native/device.cc, g_render).
   */
  kfdClose(h: NativeDeviceHandle): void;
  kfdIsOpen(h: NativeDeviceHandle): boolean;
  /**
   * GET_VERSION: writes [major_version, minor_version] into `out` (a Uint32Array of at least 2 elements;
   * TypeError for anything else, RangeError when shorter). An out-parameter, not a result object: building
   * `{ major, minor }` in C++ cost more than the ioctl (the backend builds it in JS). Returns undefined, or
   * -errno in errno mode.
   */
  kfdGetVersion(h: NativeDeviceHandle, out: Uint32Array, returnErrno?: true): number | undefined;
  /** The apertures, or -errno in errno mode. */
  kfdGetProcessApertures(h: NativeDeviceHandle, returnErrno?: true): ProcessAperture[] | number;
  /** Opens renderPath (once per gpuId, kept until close) and issues ACQUIRE_VM with it. Always throws. */
  kfdAcquireVm(h: NativeDeviceHandle, gpuId: number, renderPath: string): void;
  /** SET_XNACK_MODE: mode < 0 queries; returns the mode in force (0 or positive), or -errno in errno mode. */
  kfdSetXnackMode(h: NativeDeviceHandle, mode: number, returnErrno?: true): number;
  /** Bytes available (a bigint), or -errno (a Number) in errno mode. */
  kfdAvailableMemory(h: NativeDeviceHandle, gpuId: number, returnErrno?: true): bigint | number;
  /** AMDKFD_IOC_SVM on the JS thread (for GET): the attributes as the kernel left them, or -errno in errno mode. */
  kfdSvmSync(
    h: NativeDeviceHandle,
    op: number,
    start: bigint,
    size: bigint,
    attrs: readonly SvmAttribute[],
    returnErrno?: true,
  ): SvmAttribute[] | number;
  /**
   * AMDKFD_IOC_SVM on a libuv worker thread (for SET, which may migrate). Errno mode: -EBADF at once for a
   * closed handle, and a promise that resolves with -errno for a refused ioctl.
   */
  kfdSvmAsync(
    h: NativeDeviceHandle,
    op: number,
    start: bigint,
    size: bigint,
    attrs: readonly SvmAttribute[],
    returnErrno?: true,
  ): Promise<SvmAttribute[] | number> | number;

  /** mmap(MAP_PRIVATE | MAP_ANONYMOUS) of size rounded up to pages, 2 MiB aligned on request. */
  /**
   * `wantBuffer` false: no ArrayBuffer (buffer: null), for a mapping larger than the runtime's largest one
   * (buffer.constants.MAX_LENGTH), which Node would refuse.
   */
  memAlloc(size: number, align2M?: boolean, wantBuffer?: boolean): NativeMapping;
  /** Detaches the buffer, then munmap. Idempotent. */
  memFree(h: NativeMappingHandle): void;
  memIsFreed(h: NativeMappingHandle): boolean;
  /**
   * Copies target.byteLength bytes of the mapping, from offset, into target (memmove: target may view the
   * mapping itself). TypeError: not a TypedArray/Buffer/DataView, or a view of a detached buffer. RangeError:
   * offset not an integer in [0, 2^53-1], or the span outside the mapping. EFAULT (syscall 'memcpy') once freed.
   */
  memRead(h: NativeMappingHandle, offset: number, target: ArrayBufferView): void;
  /** Copies source into the mapping at offset; the same checks as memRead. */
  memWrite(h: NativeMappingHandle, offset: number, source: ArrayBufferView): void;
  /** A copy of `length` bytes at `address` (process_vm_readv: EFAULT for unmapped memory, never a crash). */
  memPeek(address: bigint, length: number): Uint8Array;

  /** SMI_EVENTS(gpuId), then writes mask to the returned fd (made CLOEXEC). */
  kfdSmiOpen(h: NativeDeviceHandle, gpuId: number, mask: bigint): NativeSmiHandle;
  /**
   * An event source over a file description of its own for what the caller's fd refers to (an SMI fd from
   * elsewhere; a FIFO in tests). The caller's fd and its flags are left as they were.
   */
  smiAdopt(fd: number): NativeSmiHandle;
  /** The next chunk of event text, waited for on a thread of its own; '' once closed. One at a time. */
  smiRead(h: NativeSmiHandle): Promise<string>;
  smiSetMask(h: NativeSmiHandle, mask: bigint): void;
  /** Idempotent; wakes a pending read, which resolves ''. */
  smiClose(h: NativeSmiHandle): void;
}

/** The package root: the nearest directory above this file whose package.json is kfd-svm's. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown }).name === 'kfd-svm') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('kfd-svm: cannot find the package root (no package.json named kfd-svm above the code)');
    dir = up;
  }
}

let cached: NativeAddon | undefined;
let cachedError: Error | undefined;

/**
 * Loads the addon (once). Throws an Error naming the platform, what was tried and what to do; the same
 * Error on every later call.
 */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  if (cachedError) throw cachedError;
  const require = createRequire(import.meta.url);
  const override = process.env.KFD_SVM_NATIVE_PATH;
  let root = '(unknown)';
  try {
    if (override) {
      cached = require(resolve(override)) as NativeAddon;
    } else {
      root = packageRoot();
      const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
      cached = nodeGypBuild(root) as NativeAddon;
    }
    return cached;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const where = override ? `KFD_SVM_NATIVE_PATH=${override}` : `${root} (build/Release, then prebuilds/)`;
    cachedError = new Error(
      `kfd-svm: the native addon failed to load on ${process.platform}-${process.arch} (node ${process.version}, ` +
        `Node-API ${process.versions.napi ?? '?'}) from ${where}: ${why}\n` +
        (process.platform === 'linux'
          ? '  Build it with `npm run build:native` (needs python3, make and g++), or reinstall the package ' +
            'so its prebuilds/ folder is present; '
          : '  The kernel backend exists only on Linux; ') +
        'the simulator needs no addon: open({ backend: "sim" }) or KFD_SVM_BACKEND=sim.',
      { cause: e },
    );
    throw cachedError;
  }
}

/** The reason the addon could not load, if loadAddon() has failed; undefined otherwise (or not tried). */
export function addonLoadError(): Error | undefined {
  return cachedError;
}
