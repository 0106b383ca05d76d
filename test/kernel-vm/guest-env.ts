/** Where the guest suites run and where they leave what they saw (see scripts/kernel-vm/run-in-vm.sh). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** True inside the QEMU guest that run-in-vm.sh boots. */
export const IN_VM = process.env.KFD_SVM_IN_VM === '1';
/** 'svm' (CONFIG_HSA_AMD_SVM=y) or 'nosvm'. */
export const VM_KERNEL = process.env.KFD_SVM_VM_KERNEL ?? '';
/** 'hmm' (Soft Reserved ranges given to test_hmm) or 'dax' (left to dax_hmem/device_dax). */
export const VM_MODE = process.env.KFD_SVM_VM_MODE ?? '';
export const HMM_HELPER = process.env.KFD_SVM_HMM_HELPER ?? '';

/** Writes a JSON record into the run's output directory (a writable 9p share), if there is one. */
export function record(name: string, value: unknown): void {
  const dir = process.env.KFD_SVM_VM_OUT;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  // bigints (addresses, topology properties) as decimal strings: JSON has no u64.
  const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
  writeFileSync(join(dir, name), `${json}\n`);
}
