/**
 * The device surface through the real ioctl path, without a KFD: a missing device gives ENOENT, and
 * /dev/null opened as the device answers every KFD ioctl with ENOTTY (the kernel's answer for a file
 * without that ioctl: vfs_ioctl returns -ENOTTY when the file has no unlocked_ioctl).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SvmAttrType, SvmOp } from '../../src/backend/abi.js';
import type { Backend } from '../../src/backend/contract.js';
import { KernelError } from '../../src/backend/errors.js';
import { KfdBackend, loadAddon, openKfdBackend, type NativeAddon } from '../../src/backend/kfd/index.js';
import { fdCount } from './helpers.js';

const PAGE = 4096n;

describe('opening the device', () => {
  it('a missing device path is a KernelError ENOENT from open, with a hint', () => {
    let err: unknown;
    try {
      openKfdBackend({ devicePath: '/nonexistent/kfd' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect(err).toMatchObject({ code: 'ENOENT', errno: 2, syscall: 'open', request: '/nonexistent/kfd' });
    expect((err as Error).message).toMatch(/amdgpu driver is not loaded|not passed into the container/);
  });

  it('a directory is EISDIR (O_RDWR on a directory), not a crash', () => {
    expect(() => openKfdBackend({ devicePath: '/' })).toThrow(expect.objectContaining({ code: 'EISDIR' }));
  });
});

describe('every KFD ioctl on a file that is not KFD (/dev/null) answers ENOTTY', () => {
  const b: Backend = openKfdBackend({ devicePath: '/dev/null', sysfsRoot: '/nonexistent', iomemPath: '/nonexistent' });
  afterAll(() => b.close());

  const enotty = (request: string) =>
    expect.objectContaining({ name: 'KernelError', code: 'ENOTTY', errno: 25, syscall: 'ioctl', request });

  it('GET_VERSION', () => expect(() => b.version()).toThrow(enotty('AMDKFD_IOC_GET_VERSION')));
  it('GET_PROCESS_APERTURES_NEW', () =>
    expect(() => b.processApertures()).toThrow(enotty('AMDKFD_IOC_GET_PROCESS_APERTURES_NEW')));
  it('SET_XNACK_MODE (query and set)', () => {
    expect(() => b.getXnack()).toThrow(enotty('AMDKFD_IOC_SET_XNACK_MODE'));
    expect(() => b.setXnack(true)).toThrow(enotty('AMDKFD_IOC_SET_XNACK_MODE'));
  });
  it('AVAILABLE_MEMORY', () => expect(() => b.availableMemory(1)).toThrow(enotty('AMDKFD_IOC_AVAILABLE_MEMORY')));
  it('SMI_EVENTS', () => expect(() => b.openSmiEvents(1, 1n)).toThrow(enotty('AMDKFD_IOC_SMI_EVENTS')));
  it('SVM GET (sync) and SET / raw (async, rejecting)', async () => {
    const attrs = [{ type: SvmAttrType.PREFERRED_LOC, value: 0 }];
    expect(() => b.svmGetAttr(PAGE, PAGE, attrs)).toThrow(enotty('AMDKFD_IOC_SVM'));
    await expect(b.svmSetAttr(PAGE, PAGE, attrs)).rejects.toEqual(enotty('AMDKFD_IOC_SVM'));
    await expect(b.svmRaw(SvmOp.GET_ATTR, PAGE, PAGE, [])).rejects.toEqual(enotty('AMDKFD_IOC_SVM'));
  });
  it('ACQUIRE_VM: the render node opens, the ioctl answers ENOTTY, and the render fd is closed again', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfd-render-'));
    try {
      symlinkSync('/dev/null', join(dir, 'renderD128'));
      const b2 = openKfdBackend({ devicePath: '/dev/null', renderNodeBase: join(dir, 'renderD') });
      const before = fdCount();
      for (let i = 0; i < 20; i++) expect(() => b2.acquireVm(1, 128)).toThrow(enotty('AMDKFD_IOC_ACQUIRE_VM'));
      expect(fdCount()).toBe(before);
      // A missing render node is open's ENOENT, named by path.
      expect(() => b2.acquireVm(1, 129)).toThrow(
        expect.objectContaining({ code: 'ENOENT', syscall: 'open', request: join(dir, 'renderD129') }),
      );
      b2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('machine text: topology undefined and iomem undefined when their paths are absent', () => {
    expect(b.machine.topology).toBeUndefined();
    expect(b.machine.iomem()).toBeUndefined();
  });
  it('cpuAccess is a no-op', async () => {
    await expect(b.cpuAccess(PAGE, PAGE, 'write')).resolves.toBeUndefined();
  });
});

describe('after close', () => {
  it('close is idempotent and every later call is a KernelError EBADF', async () => {
    const b = openKfdBackend({ devicePath: '/dev/null' });
    b.close();
    b.close();
    const ebadf = expect.objectContaining({ name: 'KernelError', code: 'EBADF', errno: 9 });
    expect(() => b.version()).toThrow(ebadf);
    expect(() => b.processApertures()).toThrow(ebadf);
    expect(() => b.getXnack()).toThrow(ebadf);
    expect(() => b.setXnack(false)).toThrow(ebadf);
    expect(() => b.availableMemory(1)).toThrow(ebadf);
    expect(() => b.acquireVm(1, 128)).toThrow(ebadf);
    expect(() => b.openSmiEvents(1, 1n)).toThrow(ebadf);
    expect(() => b.svmGetAttr(PAGE, PAGE, [])).toThrow(ebadf);
    expect(() => b.alloc(4096)).toThrow(ebadf);
    await expect(b.svmSetAttr(PAGE, PAGE, [])).rejects.toEqual(ebadf);
    await expect(b.svmRaw(0, PAGE, PAGE, [])).rejects.toEqual(ebadf);
    await expect(b.cpuAccess(PAGE, PAGE, 'read')).rejects.toEqual(ebadf);
  });

  it('an SVM call in flight finishes on its fd; close takes effect for later calls', async () => {
    const b = openKfdBackend({ devicePath: '/dev/null' });
    const pending = b.svmSetAttr(PAGE, PAGE, []);
    b.close();
    // The worker still held the fd: the answer is /dev/null's ENOTTY, not EBADF from a closed fd.
    await expect(pending).rejects.toMatchObject({ code: 'ENOTTY' });
    expect(() => b.version()).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});

/** A KfdBackend on /dev/null over a stand-in addon (the real one with some calls replaced). */
function backendOver(addon: NativeAddon): KfdBackend {
  return new KfdBackend(addon, addon.kfdOpen('/dev/null'), {
    devicePath: '/dev/null',
    sysfsRoot: '/nonexistent',
    iomemPath: '/nonexistent',
    renderNodeBase: '/nonexistent/renderD',
  });
}

describe('version(): the addon fills an out-parameter, the backend builds the object', () => {
  it('returns { major, minor } from what kfdGetVersion wrote, a fresh object per call', () => {
    const real = loadAddon();
    let answer = [1, 17];
    const addon: NativeAddon = {
      ...real,
      kfdGetVersion: (h, out) => {
        real.kfdIsOpen(h); // the backend's own handle
        out[0] = answer[0] as number;
        out[1] = answer[1] as number;
        return undefined; // answered (errno mode returns -errno only when refused)
      },
    };
    const b = backendOver(addon);
    const v1 = b.version();
    expect(v1).toEqual({ major: 1, minor: 17 });
    answer = [2 ** 32 - 1, 0];
    const v2 = b.version();
    expect(v2).toEqual({ major: 2 ** 32 - 1, minor: 0 }); // u32 fields, unsigned
    expect(v1).toEqual({ major: 1, minor: 17 }); // not a view of the reused out-parameter
    b.close();
  });
});

describe('a binary from before errno mode (a stale build/Release) still gives KernelErrors', () => {
  it('per-operation calls that ignore the errno flag and throw are converted, sync and async', async () => {
    const real = loadAddon();
    // What the throwing mode raises (native/errors.cc MakeSysError), whatever the trailing flag says.
    const refuse = (): never => {
      throw Object.assign(new Error('ioctl AMDKFD_IOC_GET_VERSION failed: ENOTTY'), {
        kfdSvmSyscallError: true,
        code: 'ENOTTY',
        errno: 25,
        syscall: 'ioctl',
        request: 'AMDKFD_IOC_GET_VERSION',
      });
    };
    const addon: NativeAddon = { ...real, kfdGetVersion: refuse, kfdSetXnackMode: refuse, kfdSvmAsync: refuse };
    const b = backendOver(addon);
    try {
      expect(() => b.version()).toThrow(KernelError);
      expect(() => b.getXnack()).toThrow(expect.objectContaining({ code: 'ENOTTY', errno: 25, syscall: 'ioctl' }));
      await expect(b.svmSetAttr(0x1000n, 0x1000n, [])).rejects.toBeInstanceOf(KernelError);
    } finally {
      b.close();
    }
  });
});

describe('machine text over real files', () => {
  it('topology is a TreeReader over the sysfs root; iomem reads the given file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfd-topo-'));
    try {
      mkdirSync(join(dir, 'nodes', '0'), { recursive: true });
      writeFileSync(join(dir, 'generation_id'), '1\n');
      writeFileSync(join(dir, 'nodes', '0', 'gpu_id'), '0\n');
      writeFileSync(join(dir, 'iomem'), '00000000-00000fff : Reserved\n');
      const b = openKfdBackend({ devicePath: '/dev/null', sysfsRoot: dir, iomemPath: join(dir, 'iomem') });
      const t = b.machine.topology;
      expect(t).toBeDefined();
      expect(t?.readFile('generation_id')).toBe('1\n');
      expect(t?.readFile('/nodes/0/gpu_id')).toBe('0\n');
      expect(t?.listDir('')).toEqual(['generation_id', 'iomem', 'nodes']);
      expect(t?.listDir('nodes')).toEqual(['0']);
      expect(t?.readFile('nodes/1/gpu_id')).toBeUndefined();
      expect(t?.listDir('nodes/0/gpu_id')).toBeUndefined(); // ENOTDIR reads as absent
      expect(t?.readFile('../etc/passwd')).toBeUndefined(); // never climbs out of the root
      expect(b.machine.iomem()).toBe('00000000-00000fff : Reserved\n');
      b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
