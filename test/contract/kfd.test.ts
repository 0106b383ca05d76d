/**
 * The contract suite against the kernel, whenever /dev/kfd opens on this machine (a GPU node, or the
 * QEMU guest of test/kernel-vm). A kernel built without SVM support (CONFIG_HSA_AMD_SVM off: stock Debian)
 * cannot run the suite; there the one promise is that open() says so with ENOSVM (the EPERM of
 * kfd_chardev.c's stubs). A kernel with SVM but no GPU runs the suite with the GPU cases skipped by
 * capability.
 */
import { closeSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { open, SvmError, type Device } from '../../src/index.js';
import { defineContract } from './contract.js';

const devicePath = process.env.KFD_SVM_DEVICE ?? '/dev/kfd';

function kfdOpens(): boolean {
  try {
    closeSync(openSync(devicePath, 'r+'));
    return true;
  } catch {
    return false;
  }
}

const available = kfdOpens();
let refusal: SvmError | undefined;
if (available) {
  let probe: Device | undefined;
  try {
    probe = await open({ backend: 'kfd', devicePath });
  } catch (e) {
    if (!(e instanceof SvmError)) throw e;
    refusal = e;
  }
  await probe?.close();
}

describe.runIf(available)(`kfd backend (${devicePath})`, () => {
  if (refusal) {
    it('a kernel that cannot run SVM is refused with a typed error and a hint', () => {
      const e = refusal as SvmError;
      expect(['ENOSVM', 'EBACKEND']).toContain(e.code);
      if (e.code === 'ENOSVM') expect(e.errno).toBe(1);
      expect(e.hint.length).toBeGreaterThan(20);
    });
    it('auto falls back to the simulator and says why', async () => {
      const d = await open({ backend: 'auto', devicePath });
      expect(d.backend).toBe('sim');
      expect(d.fallbackReason).toContain((refusal as SvmError).code === 'ENOSVM' ? 'SVM' : 'addon');
      await d.close();
    });
  } else {
    defineContract('kfd', () => open({ backend: 'kfd', devicePath }));

    it('one kfd Device per process at a time: a second open is EBUSY, and open works again after close', async () => {
      const first = await open({ backend: 'kfd', devicePath });
      const second = await open({ backend: 'kfd', devicePath }).catch((e: unknown) => e);
      expect(second).toBeInstanceOf(SvmError);
      expect((second as SvmError).code).toBe('EBUSY');
      await first.close();
      // The kernel keeps this process's KFD context (and the DRM file of each GPU VM) until exit; a new
      // Device must acquire the VMs again without EBUSY (the addon reuses the render-node files).
      const again = await open({ backend: 'kfd', devicePath });
      expect(again.vmGpuIds).toEqual(first.vmGpuIds);
      await again.close();
    });
  }
});

