/**
 * One table of backend-contract cases that a CPU-only KFD can answer, run against the real amdgpu KFD
 * driver in a QEMU guest (test/kernel-vm/kfd-guest.test.ts) and against the simulator's 'cpu-only'
 * profile on the host (test/kernel-vm/sim-conformance.test.ts). Each case states what Linux 6.12 answers
 * and which kernel function says so; the guest run records the real answers in
 * fixtures/kernel-answers.json, and the sim must give the same answer for every row.
 *
 * Cases run in table order in one process (the XNACK cases change process state, as in the kernel).
 */
import type { Backend, SvmAttribute } from '../../src/backend/contract.js';
import { PAGE_SIZE, SvmAttrType as T, SvmFlag, SvmLocation, SvmOp } from '../../src/backend/abi.js';
import { isKernelError } from '../../src/backend/errors.js';

/** What a call gave: a value, or the kernel's errno name. */
export type Answer = { ok: true; value: unknown } | { ok: false; errno: string };

export interface CaseContext {
  backend: Backend;
  /** A 4 MiB anonymous mapping (2 MiB aligned) with no SVM range on it. */
  buf: bigint;
  /** The start of a page that was mapped and then unmapped. */
  unmapped: bigint;
}

export interface ConformanceCase {
  id: string;
  /** The call, in words. */
  what: string;
  /** True when the call is an SVM or XNACK ioctl (EPERM on a kernel without CONFIG_HSA_AMD_SVM). */
  svmIoctl: boolean;
  run(ctx: CaseContext): unknown;
  /** What Linux 6.12 with CONFIG_HSA_AMD_SVM=y answers on a machine with no GPU. */
  expected: Answer;
  /** The kernel code that decides the answer. */
  source: string;
}

const MiB = 1n << 20n;
const BAD_GPU = 12345;
const UNDEF = SvmLocation.UNDEFINED;
/** svm_range_set_default_attributes: HOST_ACCESS | COHERENT; GET returns SET_FLAGS = and, CLR_FLAGS = ~or. */
const DEFAULT_FLAGS = SvmFlag.HOST_ACCESS | SvmFlag.COHERENT;
const DEFAULT_CLR = ~DEFAULT_FLAGS >>> 0;

const q = (...types: number[]): SvmAttribute[] => types.map((type) => ({ type, value: 0 }));
const ALL_QUERY = q(T.PREFERRED_LOC, T.PREFETCH_LOC, T.GRANULARITY, T.SET_FLAGS, T.CLR_FLAGS);
const DEFAULTS = [
  { type: T.PREFERRED_LOC, value: UNDEF },
  { type: T.PREFETCH_LOC, value: UNDEF },
  { type: T.GRANULARITY, value: 9 },
  { type: T.SET_FLAGS, value: DEFAULT_FLAGS },
  { type: T.CLR_FLAGS, value: DEFAULT_CLR },
];
const VALID_SET: SvmAttribute[] = [
  { type: T.PREFERRED_LOC, value: SvmLocation.SYSMEM },
  { type: T.PREFETCH_LOC, value: SvmLocation.SYSMEM },
  { type: T.GRANULARITY, value: 9 },
  { type: T.SET_FLAGS, value: DEFAULT_FLAGS },
];

const ok = (value: unknown): Answer => ({ ok: true, value });
const err = (errno: string): Answer => ({ ok: false, errno });
const page = BigInt(PAGE_SIZE);

const SVM_CHECKS = 'kfd_chardev.c kfd_ioctl_svm: start/size page-aligned and non-zero';
const NO_VM = 'kfd_svm.c svm_range_set_attr: `if (!process_info) return -EINVAL` (no GPU VM without a GPU)';

export const CASES: readonly ConformanceCase[] = [
  { id: 'version', what: 'GET_VERSION', svmIoctl: false, run: ({ backend }) => backend.version(),
    expected: ok({ major: 1, minor: 17 }), source: 'kfd_ioctl_get_version: KFD_IOCTL_MAJOR/MINOR_VERSION of 6.12' },
  { id: 'apertures', what: 'GET_PROCESS_APERTURES_NEW', svmIoctl: false, run: ({ backend }) => backend.processApertures(),
    expected: ok([]), source: 'kfd_ioctl_get_process_apertures_new: one entry per pdd; a CPU-only process has none' },
  { id: 'xnack-get', what: 'SET_XNACK_MODE(-1) at open', svmIoctl: true, run: ({ backend }) => backend.getXnack(),
    expected: ok(true), source: 'kfd_process_xnack_mode: no GPUs, so the "every GPU supports it" loop is vacuously true' },
  { id: 'xnack-set-off', what: 'SET_XNACK_MODE(0), then (-1)', svmIoctl: true,
    run: ({ backend }) => { backend.setXnack(false); return backend.getXnack(); },
    expected: ok(false), source: 'kfd_ioctl_set_xnack_mode: no user queues, so the mode changes' },
  { id: 'xnack-set-on', what: 'SET_XNACK_MODE(1), then (-1)', svmIoctl: true,
    run: ({ backend }) => { backend.setXnack(true); return backend.getXnack(); },
    expected: ok(true), source: 'kfd_ioctl_set_xnack_mode: kfd_process_xnack_mode(p, true) is true with no GPUs' },
  { id: 'get-defaults', what: 'GET_ATTR all attributes over 4 MiB with no range', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmGetAttr(buf, 4n * MiB, ALL_QUERY),
    expected: ok(DEFAULTS), source: 'svm_range_get_attr: "range attrs not found return default values"' },
  { id: 'get-defaults-page', what: 'GET_ATTR all attributes over one page', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmGetAttr(buf + 5n * page, page, ALL_QUERY),
    expected: ok(DEFAULTS), source: 'svm_range_get_attr: no interval-tree node, defaults' },
  { id: 'get-repeated-attr', what: 'GET_ATTR GRANULARITY twice and PREFERRED_LOC', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmGetAttr(buf, 2n * MiB, q(T.GRANULARITY, T.PREFERRED_LOC, T.GRANULARITY)),
    expected: ok([{ type: T.GRANULARITY, value: 9 }, { type: T.PREFERRED_LOC, value: UNDEF }, { type: T.GRANULARITY, value: 9 }]),
    source: 'svm_range_get_attr fill_values: every slot filled by its type' },
  { id: 'get-nattr-0', what: 'GET_ATTR with no attributes', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmGetAttr(buf, 2n * MiB, []),
    expected: ok([]), source: 'svm_range_get_attr: nothing to fill, returns 0' },
  { id: 'get-unaligned-start', what: 'GET_ATTR start+1', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmGetAttr(buf + 1n, page, ALL_QUERY), expected: err('EINVAL'), source: SVM_CHECKS },
  { id: 'get-unaligned-size', what: 'GET_ATTR size 4097', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmGetAttr(buf, page + 1n, ALL_QUERY), expected: err('EINVAL'), source: SVM_CHECKS },
  { id: 'get-zero-start', what: 'GET_ATTR start 0', svmIoctl: true,
    run: ({ backend }) => backend.svmGetAttr(0n, page, ALL_QUERY), expected: err('EINVAL'), source: SVM_CHECKS },
  { id: 'get-zero-size', what: 'GET_ATTR size 0', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmGetAttr(buf, 0n, ALL_QUERY), expected: err('EINVAL'), source: SVM_CHECKS },
  { id: 'get-unmapped', what: 'GET_ATTR over an unmapped page', svmIoctl: true,
    run: ({ backend, unmapped }) => backend.svmGetAttr(unmapped, page, ALL_QUERY), expected: err('EFAULT'),
    source: 'svm_range_is_valid: vma_lookup finds no VMA -> -EFAULT' },
  { id: 'get-overflow', what: 'GET_ATTR start 2^64-4096, size 8192', svmIoctl: true,
    run: ({ backend }) => backend.svmGetAttr(0xfffffffffffff000n, 2n * page, ALL_QUERY), expected: err('EOVERFLOW'),
    source: 'svm_range_is_valid: check_add_overflow(start, size) -> -EOVERFLOW' },
  { id: 'get-attr-type-99', what: 'GET_ATTR attribute type 99', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmGetAttr(buf, page, q(99)), expected: err('EINVAL'),
    source: 'svm_range_get_attr: "get invalid attr type"' },
  { id: 'get-access-in-place', what: 'GET_ATTR type ACCESS_IN_PLACE (only ACCESS is a query)', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmGetAttr(buf, page, [{ type: T.ACCESS_IN_PLACE, value: BAD_GPU }]), expected: err('EINVAL'),
    source: 'svm_range_get_attr: ACCESS_IN_PLACE/NO_ACCESS fall through to the invalid-type case' },
  { id: 'get-access-bad-gpu', what: 'GET_ATTR ACCESS for gpu_id 12345', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmGetAttr(buf, page, [{ type: T.ACCESS, value: BAD_GPU }]), expected: err('EINVAL'),
    source: 'svm_range_get_attr fill_values: kfd_process_gpuidx_from_gpuid < 0' },
  { id: 'set-valid', what: 'SET_ATTR pref=sysmem, prefetch=sysmem, granularity 9, flags', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmSetAttr(buf, 2n * MiB, VALID_SET), expected: err('EINVAL'), source: NO_VM },
  { id: 'set-nattr-0', what: 'SET_ATTR with no attributes', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmSetAttr(buf, 2n * MiB, []), expected: err('EINVAL'), source: NO_VM },
  { id: 'set-unmapped', what: 'SET_ATTR over an unmapped page', svmIoctl: true,
    run: ({ backend, unmapped }) => backend.svmSetAttr(unmapped, page, VALID_SET), expected: err('EINVAL'),
    source: `${NO_VM}; it runs before svm_range_is_valid, so no EFAULT` },
  { id: 'set-unaligned-start', what: 'SET_ATTR start+1', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmSetAttr(buf + 1n, page, VALID_SET), expected: err('EINVAL'), source: SVM_CHECKS },
  { id: 'set-unaligned-size', what: 'SET_ATTR size 4097', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmSetAttr(buf, page + 1n, VALID_SET), expected: err('EINVAL'), source: SVM_CHECKS },
  { id: 'set-zero-start', what: 'SET_ATTR start 0', svmIoctl: true,
    run: ({ backend }) => backend.svmSetAttr(0n, page, VALID_SET), expected: err('EINVAL'), source: SVM_CHECKS },
  { id: 'set-zero-size', what: 'SET_ATTR size 0', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmSetAttr(buf, 0n, VALID_SET), expected: err('EINVAL'), source: SVM_CHECKS },
  { id: 'set-pref-bad-gpu', what: 'SET_ATTR PREFERRED_LOC gpu_id 12345', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmSetAttr(buf, page, [{ type: T.PREFERRED_LOC, value: BAD_GPU }]), expected: err('EINVAL'),
    source: 'svm_range_check_attr: "no GPU 0x%x found"' },
  { id: 'set-prefetch-undefined', what: 'SET_ATTR PREFETCH_LOC UNDEFINED', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmSetAttr(buf, page, [{ type: T.PREFETCH_LOC, value: UNDEF }]), expected: err('EINVAL'),
    source: 'svm_range_check_attr: PREFETCH_LOC accepts only SYSMEM or a gpu_id (0xffffffff is looked up as one)' },
  { id: 'set-access-bad-gpu', what: 'SET_ATTR ACCESS gpu_id 12345', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmSetAttr(buf, page, [{ type: T.ACCESS, value: BAD_GPU }]), expected: err('EINVAL'),
    source: 'svm_range_check_attr: "no GPU 0x%x found"' },
  { id: 'set-attr-type-99', what: 'SET_ATTR attribute type 99', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmSetAttr(buf, page, [{ type: 99, value: 0 }]), expected: err('EINVAL'),
    source: 'svm_range_check_attr: "unknown attr type"' },
  { id: 'set-granularity-64', what: 'SET_ATTR GRANULARITY 64', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmSetAttr(buf, 2n * MiB, [{ type: T.GRANULARITY, value: 64 }]), expected: err('EINVAL'),
    source: NO_VM },
  { id: 'get-after-failed-set', what: 'GET_ATTR GRANULARITY after the refused SET', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmGetAttr(buf, 2n * MiB, q(T.GRANULARITY)), expected: ok([{ type: T.GRANULARITY, value: 9 }]),
    source: 'a refused SET creates no range' },
  { id: 'raw-get', what: 'SVM op GET_ATTR through svmRaw', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmRaw(SvmOp.GET_ATTR, buf, 2n * MiB, q(T.PREFERRED_LOC, T.GRANULARITY)),
    expected: ok([{ type: T.PREFERRED_LOC, value: UNDEF }, { type: T.GRANULARITY, value: 9 }]), source: 'svm_ioctl: op GET_ATTR' },
  { id: 'raw-op-7', what: 'SVM op 7', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmRaw(7, buf, 2n * MiB, q(T.GRANULARITY)), expected: err('EINVAL'),
    source: 'svm_ioctl: default case -> -EINVAL' },
  { id: 'raw-op-7-unaligned', what: 'SVM op 7 with start+1 (the alignment check comes first)', svmIoctl: true,
    run: ({ backend, buf }) => backend.svmRaw(7, buf + 1n, page, []), expected: err('EINVAL'), source: SVM_CHECKS },
];

/** Runs one case and turns a KernelError into its errno name; anything else is a test failure. */
export async function answer(c: ConformanceCase, ctx: CaseContext): Promise<Answer> {
  try {
    return ok(normalise(await c.run(ctx)));
  } catch (e) {
    if (isKernelError(e)) return err(e.code);
    throw e;
  }
}

/** Makes answers comparable and JSON-safe: plain objects, bigints as decimal strings, undefined dropped. */
export function normalise(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(normalise);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = normalise(x);
    return out;
  }
  return v;
}

/** Runs every case in order on a backend, with a fresh 4 MiB mapping and an unmapped page. */
export async function runAll(backend: Backend): Promise<Record<string, Answer>> {
  const mem = backend.alloc(Number(4n * MiB), { align2M: true });
  const gone = backend.alloc(PAGE_SIZE);
  const unmapped = gone.address;
  gone.free();
  const ctx: CaseContext = { backend, buf: mem.address, unmapped };
  const out: Record<string, Answer> = {};
  try {
    for (const c of CASES) out[c.id] = await answer(c, ctx);
  } finally {
    mem.free();
  }
  return out;
}

/** What a kernel without CONFIG_HSA_AMD_SVM answers: EPERM from the stubs in kfd_chardev.c for every
 *  SVM and XNACK ioctl, except that kfd_ioctl_svm_validate still runs first (not reachable through the
 *  contract, which always sizes the ioctl right). */
export function expectedWithoutSvm(c: ConformanceCase): Answer {
  return c.svmIoctl ? err('EPERM') : c.expected;
}
