import { check } from '../assert.js';
import type { SmokeCheck } from '../types.js';

/** SVM arrived in KFD ioctl version 1.5 (kfd_ioctl.h history); 6.12 reports 1.17. */
const SVM_MINOR = 5;

export const versionsCheck: SmokeCheck = {
  id: 'versions',
  perGpu: false,
  title: () => 'the KFD interface version and the XNACK mode are sane',
  async run({ device }, _gpu, out) {
    const { major, minor } = device.version;
    out.diag('kfd', `${major}.${minor}`);
    check(major === 1, `KFD ioctl major version ${major}: this package speaks version 1`, { major, minor });
    check(minor >= SVM_MINOR, `KFD ${major}.${minor} predates the SVM ioctls (1.${SVM_MINOR})`, { major, minor });
    const xnack = device.xnack;
    out.diag('xnack', xnack);
    check(typeof xnack === 'boolean', 'the XNACK query did not answer a boolean');
    // The kernel turns XNACK on for a process only when every GPU of it supports XNACK
    // (kfd_process_xnack_mode), so "on" with an incapable GPU means the topology and the kernel disagree.
    if (xnack) {
      const incapable = device.gpus.filter((g) => !g.xnackCapable);
      check(incapable.length === 0, `XNACK is on, but GPU ${incapable.map((g) => g.gpuId).join(', ')} cannot run with XNACK`);
    }
  },
};
