/**
 * The addon's side of the bridge benchmark: kfdGetVersion (native/device.cc), the addon's quick synchronous
 * ioctl. Two paths: the answered call (a real /dev/kfd, or /dev/null under the answer shim), and the rejected
 * call: thrown as an errno error (the addon's throwing mode), returned as -errno (errno mode, what the kfd
 * backend uses), or through Backend.version(), which throws the one KernelError built from it.
 */
import { importDist, loadBenchAddon } from './modules.js';

type KfdModule = typeof import('../../src/backend/kfd/index.js');

/** A call under test. `run(n)` issues n calls in its own loop, so each case's loop stays monomorphic. */
export interface QuickCall {
  description: string;
  run(n: number): void;
  close(): void;
}

/**
 * The addon's GET_VERSION on `device`. `expectErrno` 0: the call must be answered; otherwise it must throw an
 * error with that errno, and the loop catches it (`errnoMode`: it must return -errno instead). Returns the
 * reason when the addon cannot be measured.
 */
export async function openAddonQuickCall(device: string, expectErrno: number, errnoMode = false): Promise<QuickCall | string> {
  const addon = await loadBenchAddon();
  if (typeof addon === 'string') return addon;
  const h = addon.kfdOpen(device);
  const getVersion = addon.kfdGetVersion;
  const out = new Uint32Array(2);
  let errno: unknown = 0;
  try {
    getVersion(h, out);
  } catch (e) {
    errno = (e as { errno?: unknown }).errno;
  }
  if (errno !== expectErrno) {
    addon.kfdClose(h);
    return `kfdGetVersion on ${device}: expected errno ${expectErrno}, got ${String(errno)}`;
  }
  if (errnoMode) {
    let got: unknown;
    try {
      got = getVersion(h, out, true);
    } catch (e) {
      got = e; // an addon without errno mode throws
    }
    if (got !== -expectErrno) {
      addon.kfdClose(h);
      return `kfdGetVersion(..., true) on ${device}: expected ${-expectErrno}, got ${String(got)}`;
    }
    return {
      description: `kfdGetVersion(handle, out, true) rejected in errno mode: returns -errno, no throw`,
      run(n: number): void {
        for (let i = 0; i < n; i++) getVersion(h, out, true);
      },
      close: () => addon.kfdClose(h),
    };
  }
  if (expectErrno === 0) {
    return {
      description: `kfdGetVersion(handle, out: Uint32Array) → out = [major, minor]`,
      run(n: number): void {
        for (let i = 0; i < n; i++) getVersion(h, out);
      },
      close: () => addon.kfdClose(h),
    };
  }
  return {
    description: `kfdGetVersion(handle) rejected: throws the errno error, caught in the loop`,
    run(n: number): void {
      for (let i = 0; i < n; i++) {
        try {
          getVersion(h, out);
        } catch {
          // expected
        }
      }
    },
    close: () => addon.kfdClose(h),
  };
}

/**
 * The same ioctl one layer up: `Backend.version()` of the kfd backend (the addon call plus its error mapping).
 * `expectErrno` non-zero: every call must throw a KernelError with that errno, which the loop catches.
 */
export async function openBackendQuickCall(device: string, expectErrno = 0): Promise<QuickCall | string> {
  let backend: import('../../src/backend/contract.js').Backend;
  let errno: unknown = 0;
  try {
    const kfd = await importDist<KfdModule>('backend/kfd/index.js');
    backend = kfd.openKfdBackend({ devicePath: device });
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  try {
    backend.version();
  } catch (e) {
    errno = (e as { errno?: unknown; name?: unknown }).name === 'KernelError' ? (e as { errno?: unknown }).errno : e;
  }
  const b = backend;
  if (errno !== expectErrno) {
    b.close();
    return `Backend.version() on ${device}: expected errno ${expectErrno}, got ${String(errno)}`;
  }
  if (expectErrno !== 0) {
    return {
      description: `openKfdBackend({ devicePath }).version() rejected: throws one KernelError, caught in the loop`,
      run(n: number): void {
        for (let i = 0; i < n; i++) {
          try {
            b.version();
          } catch {
            // expected
          }
        }
      },
      close: () => b.close(),
    };
  }
  return {
    description: `openKfdBackend({ devicePath }).version()`,
    run(n: number): void {
      for (let i = 0; i < n; i++) b.version();
    },
    close: () => b.close(),
  };
}
