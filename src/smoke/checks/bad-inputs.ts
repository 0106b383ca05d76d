import { Errno } from '../../backend/abi.js';
import { checkRejects } from '../assert.js';
import type { SmokeCheck } from '../types.js';

/**
 * Ranges the kernel must refuse, with its errno (kfd_chardev.c: kfd_ioctl_svm, then kfd_svm.c:
 * svm_range_set_attr → svm_range_is_valid), sent through `device.register()`, which passes address and
 * size to the kernel as they are.
 */
export const badInputsCheck: SmokeCheck = {
  id: 'bad-inputs',
  perGpu: false,
  title: () => "bad ranges are refused with the kernel's errno",
  async run({ device }, _gpu, out) {
    // Without a GPU VM every SET that passes kfd_ioctl_svm's own checks is refused with EINVAL first.
    const noVm = device.vmGpuIds.length === 0;
    const cases: { what: string; address: bigint; size: number; errno: number }[] = [
      // kfd_ioctl_svm: `if (!args->start_addr || !args->size) return -EINVAL;`
      { what: 'start address 0', address: 0n, size: 4096, errno: Errno.EINVAL },
      { what: 'size 0', address: 0x10000n, size: 0, errno: Errno.EINVAL },
      // kfd_ioctl_svm: start or size not page-aligned → EINVAL.
      { what: 'unaligned start', address: 0x10001n, size: 4096, errno: Errno.EINVAL },
      { what: 'unaligned size', address: 0x10000n, size: 100, errno: Errno.EINVAL },
      // svm_range_is_valid: no VMA there (below mmap_min_addr nothing is ever mapped) → EFAULT.
      { what: 'unmapped memory', address: 0x1000n, size: 4096, errno: noVm ? Errno.EINVAL : Errno.EFAULT },
      // svm_range_is_valid: check_add_overflow(start, size) → EOVERFLOW.
      { what: 'a range that wraps past 2^64', address: (1n << 64n) - 4096n, size: 8192, errno: noVm ? Errno.EINVAL : Errno.EOVERFLOW },
    ];
    for (const c of cases) {
      const e = await checkRejects(() => device.register(c.address, c.size), { errno: c.errno }, `register(${c.what})`, (r) => r.free());
      out.diag(c.what.replace(/\W+/g, '_'), String(e.code));
    }
  },
};
