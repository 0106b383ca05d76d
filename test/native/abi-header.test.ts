/**
 * native/kfd_abi.h against the system's <linux/kfd_ioctl.h> (Debian 12's linux-libc-dev: Linux 6.1, KFD
 * ioctl 1.11). A generated C++ program includes both and prints every number, size and offset they share;
 * any difference fails. <linux/kfd_ioctl.h> includes <drm/drm.h> (libdrm-dev, not installed), so a shim
 * directory supplies a two-line drm/drm.h with the types it needs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/backend/kfd/index.js';

const SYSTEM_HEADER = '/usr/include/linux/kfd_ioctl.h';
const hasCompiler = (() => {
  try {
    execFileSync('g++', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

// [struct, fields] both headers define.
const STRUCTS: [string, string[]][] = [
  ['kfd_ioctl_get_version_args', ['major_version', 'minor_version']],
  ['kfd_process_device_apertures', ['lds_base', 'lds_limit', 'scratch_base', 'scratch_limit', 'gpuvm_base', 'gpuvm_limit', 'gpu_id', 'pad']],
  ['kfd_ioctl_get_process_apertures_new_args', ['kfd_process_device_apertures_ptr', 'num_of_nodes', 'pad']],
  ['kfd_ioctl_acquire_vm_args', ['drm_fd', 'gpu_id']],
  ['kfd_ioctl_set_xnack_mode_args', ['xnack_enabled']],
  ['kfd_ioctl_get_available_memory_args', ['available', 'gpu_id', 'pad']],
  ['kfd_ioctl_smi_events_args', ['gpuid', 'anon_fd']],
  ['kfd_ioctl_svm_attribute', ['type', 'value']],
  ['kfd_ioctl_svm_args', ['start_addr', 'size', 'op', 'nattr', 'attrs']],
];
// [system name, our name]
const IOCTLS = ['GET_VERSION', 'GET_PROCESS_APERTURES_NEW', 'ACQUIRE_VM', 'SMI_EVENTS', 'SVM', 'SET_XNACK_MODE', 'AVAILABLE_MEMORY'].map(
  (n) => [`AMDKFD_IOC_${n}`, `kfdabi::IOC_${n}`] as const,
);
const ENUMS: [string, string][] = [
  ['KFD_IOCTL_SVM_OP_SET_ATTR', 'kfdabi::SVM_OP_SET_ATTR'],
  ['KFD_IOCTL_SVM_OP_GET_ATTR', 'kfdabi::SVM_OP_GET_ATTR'],
  ['KFD_IOCTL_SVM_LOCATION_SYSMEM', 'kfdabi::SVM_LOCATION_SYSMEM'],
  ['KFD_IOCTL_SVM_LOCATION_UNDEFINED', 'kfdabi::SVM_LOCATION_UNDEFINED'],
  ...['PREFERRED_LOC', 'PREFETCH_LOC', 'ACCESS', 'ACCESS_IN_PLACE', 'NO_ACCESS', 'SET_FLAGS', 'CLR_FLAGS', 'GRANULARITY'].map(
    (n) => [`KFD_IOCTL_SVM_ATTR_${n}`, `kfdabi::SVM_ATTR_${n}`] as [string, string],
  ),
  ...['NONE', 'VMFAULT', 'THERMAL_THROTTLE', 'GPU_PRE_RESET', 'GPU_POST_RESET', 'MIGRATE_START', 'MIGRATE_END', 'PAGE_FAULT_START', 'PAGE_FAULT_END', 'QUEUE_EVICTION', 'QUEUE_RESTORE', 'UNMAP_FROM_GPU', 'ALL_PROCESS'].map(
    (n) => [`KFD_SMI_EVENT_${n}`, `kfdabi::SMI_EVENT_${n}`] as [string, string],
  ),
  ...['PREFETCH', 'PAGEFAULT_GPU', 'PAGEFAULT_CPU', 'TTM_EVICTION'].map(
    (n) => [`KFD_MIGRATE_TRIGGER_${n}`, `kfdabi::MIGRATE_TRIGGER_${n}`] as [string, string],
  ),
  ...['TRIGGER_SVM', 'TRIGGER_USERPTR', 'TRIGGER_TTM', 'TRIGGER_SUSPEND', 'CRIU_CHECKPOINT', 'CRIU_RESTORE'].map(
    (n) => [`KFD_QUEUE_EVICTION_${n}`, `kfdabi::QUEUE_EVICTION_${n}`] as [string, string],
  ),
  ...['MMU_NOTIFY', 'MMU_NOTIFY_MIGRATE', 'UNMAP_FROM_CPU'].map(
    (n) => [`KFD_SVM_UNMAP_TRIGGER_${n}`, `kfdabi::SVM_UNMAP_TRIGGER_${n}`] as [string, string],
  ),
];
// Macros: compared only where the system header defines them (EXT_COHERENT arrived after 6.1).
const MACROS: [string, string][] = [
  ...['HOST_ACCESS', 'COHERENT', 'HIVE_LOCAL', 'GPU_RO', 'GPU_EXEC', 'GPU_READ_MOSTLY', 'GPU_ALWAYS_MAPPED', 'EXT_COHERENT'].map(
    (n) => [`KFD_IOCTL_SVM_FLAG_${n}`, `kfdabi::SVM_FLAG_${n}`] as [string, string],
  ),
  ['KFD_SMI_EVENT_MSG_SIZE', 'kfdabi::kSmiEventMsgSize'],
  ['AMDKFD_IOCTL_BASE', 'kfdabi::kIoctlBase'],
];

function program(): string {
  const out: string[] = [];
  const line = (name: string, theirs: string, ours: string) =>
    out.push(`  row("${name}", (unsigned long long)(${theirs}), (unsigned long long)(${ours}));`);
  for (const [s, fields] of STRUCTS) {
    line(`sizeof ${s}`, `sizeof(struct ${s})`, `sizeof(kfdabi::${s})`);
    for (const f of fields) line(`offsetof ${s}.${f}`, `offsetof(struct ${s}, ${f})`, `offsetof(kfdabi::${s}, ${f})`);
  }
  for (const [t, o] of IOCTLS) line(t, t, o);
  for (const [t, o] of ENUMS) line(t, t, o);
  for (const [t, o] of MACROS) {
    out.push(`#ifdef ${t}`);
    line(t, t, o);
    out.push('#endif');
  }
  for (const n of [1, 2, 5, 100]) {
    line(`SVM request, ${n} attributes (libhsakmt form)`, `AMDKFD_IOC_SVM + ((${n} * sizeof(struct kfd_ioctl_svm_attribute)) << _IOC_SIZESHIFT)`, `kfdabi::SvmRequest(${n})`);
  }
  return [
    '#include <cstddef>',
    '#include <cstdio>',
    '#include <linux/kfd_ioctl.h>',
    '#include "kfd_abi.h"',
    'static int bad = 0;',
    'static void row(const char* n, unsigned long long theirs, unsigned long long ours) {',
    '  std::printf("%s\\t%llu\\t%llu\\n", n, theirs, ours);',
    '  if (theirs != ours) bad++;',
    '}',
    'int main() {',
    '  std::printf("#version\\t%d.%d\\n", KFD_IOCTL_MAJOR_VERSION, KFD_IOCTL_MINOR_VERSION);',
    ...out,
    '  return bad ? 1 : 0;',
    '}',
  ].join('\n');
}

describe.skipIf(!hasCompiler || !existsSync(SYSTEM_HEADER))(`native/kfd_abi.h beside ${SYSTEM_HEADER}`, () => {
  let dir: string;
  let rows: { name: string; theirs: string; ours: string }[] = [];
  let systemVersion = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kfd-abi-'));
    mkdirSync(join(dir, 'shim', 'drm'), { recursive: true });
    writeFileSync(join(dir, 'shim', 'drm', 'drm.h'), '#include <linux/types.h>\n#include <linux/ioctl.h>\n');
    writeFileSync(join(dir, 'check.cc'), program());
    execFileSync('g++', ['-std=c++17', '-Wall', `-I${join(dir, 'shim')}`, `-I${join(packageRoot(), 'native')}`, '-o', join(dir, 'check'), join(dir, 'check.cc')], {
      stdio: 'pipe',
    });
    let text: string;
    try {
      text = execFileSync(join(dir, 'check'), { encoding: 'utf8' });
    } catch (e) {
      text = String((e as { stdout?: string }).stdout ?? ''); // exit 1 = differences; the rows say which
    }
    for (const l of text.trim().split('\n')) {
      const [name, theirs, ours] = l.split('\t');
      if (name === '#version') systemVersion = theirs ?? '';
      else rows.push({ name: name ?? '', theirs: theirs ?? '', ours: ours ?? '' });
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('compiles and compares everything both headers define', () => {
    expect(systemVersion).toMatch(/^1\.\d+$/);
    // Every struct size/offset, ioctl, enum and the libhsakmt SVM form is present (macros may be missing).
    const expected = STRUCTS.reduce((n, [, f]) => n + 1 + f.length, 0) + IOCTLS.length + ENUMS.length + 4;
    expect(rows.length).toBeGreaterThanOrEqual(expected);
  });

  it('no number, size or offset differs', () => {
    expect(rows.filter((r) => r.theirs !== r.ours)).toEqual([]);
  });
});
