/**
 * 1. Bridge overhead: one ioctl through our addon, the same ioctl from a C loop (the floor) and through koffi
 * calling libc's ioctl (what a Node user would pick instead).
 *
 * With /dev/kfd: AMDKFD_IOC_GET_VERSION, which the kernel answers (kfd_ioctl_get_version). Without it: the
 * same request number on /dev/null, which the kernel rejects cheaply with ENOTTY (null_fops has no
 * unlocked_ioctl, so vfs_ioctl returns -ENOTTY) — the same syscall entry and fd lookup, no driver work.
 */
import { closeSync, existsSync, openSync } from 'node:fs';
import { cLoopBinary, runCLoop } from './cloop.js';
import { openAddonQuickCall, type QuickCall } from './addon-call.js';
import type { Figure, SectionResult, Target } from './report-types.js';
import { pairedDiff, pairedRatio, summarize, timePerOp } from './stats.js';
import { fmtSummary, num } from './report.js';

/** _IOR('K', 0x01, struct kfd_ioctl_get_version_args): dir READ(2)<<30 | size 8<<16 | 'K'<<8 | 1. */
export const AMDKFD_IOC_GET_VERSION = ((2 << 30) | (8 << 16) | (0x4b << 8) | 0x01) >>> 0;
const ENOTTY = 25;

export interface BridgeOptions {
  iterations: number;
  rounds: number;
  /** Use /dev/null even where /dev/kfd opens (to compare with the reference figures). */
  forceNull?: boolean;
}

export interface IoctlChoice {
  device: string;
  request: number;
  expectedErrno: number;
  description: string;
}

/** /dev/kfd with GET_VERSION when it opens; /dev/null with the same number otherwise (or when forced). */
export function chooseIoctl(forceNull = false): IoctlChoice {
  if (!forceNull && canOpen('/dev/kfd')) {
    return {
      device: '/dev/kfd',
      request: AMDKFD_IOC_GET_VERSION,
      expectedErrno: 0,
      description: `AMDKFD_IOC_GET_VERSION (0x${AMDKFD_IOC_GET_VERSION.toString(16)}) on /dev/kfd: a real KFD ioctl`,
    };
  }
  return {
    device: '/dev/null',
    request: AMDKFD_IOC_GET_VERSION,
    expectedErrno: ENOTTY,
    description:
      `no /dev/kfd here: the GET_VERSION request number (0x${AMDKFD_IOC_GET_VERSION.toString(16)}) on /dev/null, ` +
      'which the kernel rejects with ENOTTY (no ioctl handler): same syscall path, no driver work',
  };
}

function canOpen(path: string): boolean {
  if (!existsSync(path)) return false;
  try {
    closeSync(openSync(path, 'r+'));
    return true;
  } catch {
    return false;
  }
}

interface KoffiCall extends QuickCall {
  lastErrno(): number;
}

async function openKoffiCall(choice: IoctlChoice): Promise<KoffiCall> {
  const mod = (await import('koffi')) as typeof import('koffi') & { default?: typeof import('koffi') };
  const koffi = mod.default ?? mod;
  const libc = koffi.load('libc.so.6');
  // The fixed prototype, as a Node user writes it for speed: on x86-64 and arm64 a pointer third argument
  // is passed the same way to the variadic ioctl(2) wrapper. koffi's variadic call form is slower still.
  const ioctl = libc.func('int ioctl(int fd, unsigned long request, void *arg)') as (
    fd: number,
    request: number,
    arg: Buffer,
  ) => number;
  const fd = openSync(choice.device, 'r+');
  const arg = Buffer.alloc(8);
  const request = choice.request;
  let ret = 0;
  return {
    description: "koffi 3 calling libc's ioctl(int, unsigned long, void *) with a Buffer",
    run(n: number): void {
      for (let i = 0; i < n; i++) ret = ioctl(fd, request, arg);
    },
    lastErrno: () => (ret < 0 ? koffi.errno() : 0),
    close: () => closeSync(fd),
  };
}

export async function benchBridge(opts: BridgeOptions): Promise<SectionResult> {
  const choice = chooseIoctl(opts.forceNull);
  const notes: string[] = [`ioctl: ${choice.description}.`];
  const n = opts.iterations;
  notes.push(`${opts.rounds} rounds of ${num(n)} calls per case, cases interleaved in each round (order rotated).`);

  const bin = cLoopBinary();
  const probe = runCLoop(bin, choice.device, choice.request, 10, 1)[0]!;
  if (probe.errno !== choice.expectedErrno) {
    throw new Error(`bench: the C loop got errno ${probe.errno} from ${choice.device}, expected ${choice.expectedErrno}`);
  }

  const koffi = await openKoffiCall(choice);
  koffi.run(1);
  if (koffi.lastErrno() !== choice.expectedErrno) {
    throw new Error(`bench: koffi got errno ${koffi.lastErrno()}, expected ${choice.expectedErrno}`);
  }
  const addonOrReason = await openAddonQuickCall(choice);
  const addon = typeof addonOrReason === 'string' ? undefined : addonOrReason;
  if (addon) notes.push(`addon: ${addon.description}.`);
  else notes.push(`addon: not measured: ${String(addonOrReason)}.`);
  notes.push(`koffi: ${koffi.description}.`);

  // Warm-up so the JIT has compiled both JS loops before the first timed round.
  const warm = Math.max(1000, n / 10);
  koffi.run(warm);
  addon?.run(warm);

  const c: number[] = [];
  const k: number[] = [];
  const a: number[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const cases: Array<() => void> = [
      () => c.push(runCLoop(bin, choice.device, choice.request, n, 1)[0]!.nsPerCall),
      () => k.push(timePerOp(n, () => koffi.run(n))),
    ];
    if (addon) cases.push(() => a.push(timePerOp(n, () => addon.run(n))));
    for (let i = 0; i < cases.length; i++) cases[(i + r) % cases.length]!();
  }
  koffi.close();
  addon?.close();

  const figures: Figure[] = [{ label: 'C loop (floor)', unit: 'ns/call', value: summarize(c) }];
  if (addon) figures.push({ label: 'addon', unit: 'ns/call', value: summarize(a) });
  figures.push({ label: 'koffi', unit: 'ns/call', value: summarize(k) });
  const kOver = pairedDiff(k, c);
  if (addon) figures.push({ label: 'addon overhead above C', unit: 'ns/call', value: pairedDiff(a, c) });
  figures.push({ label: 'koffi overhead above C', unit: 'ns/call', value: kOver });

  const ratios: Figure[] = [];
  const targets: Target[] = [];
  if (addon) {
    const aVsC = pairedRatio(a, c);
    // Share of koffi's added cost that the addon adds, round by round: (a - c) / (k - c).
    const share = summarize(a.map((x, i) => (x - c[i]!) / (k[i]! - c[i]!)));
    ratios.push({ label: 'addon / C loop', unit: '×', value: aVsC });
    ratios.push({ label: 'koffi / C loop', unit: '×', value: pairedRatio(k, c) });
    ratios.push({ label: 'addon overhead / koffi overhead', unit: '×', value: share });
    targets.push({
      label: 'addon within 1.25× of the C loop',
      goal: '≤ 1.25×',
      measured: fmtSummary(aVsC, '×'),
      met: aVsC.median <= 1.25,
    });
    targets.push({
      label: 'addon adds at most a third of what koffi adds',
      goal: '≤ 0.33×',
      measured: fmtSummary(share, '×'),
      met: share.median <= 1 / 3,
    });
  } else {
    ratios.push({ label: 'koffi / C loop', unit: '×', value: pairedRatio(k, c) });
    targets.push({ label: 'addon within 1.25× of the C loop', goal: '≤ 1.25×', measured: 'n/a', met: null });
    targets.push({ label: 'addon adds at most a third of what koffi adds', goal: '≤ 0.33×', measured: 'n/a', met: null });
  }
  return { id: 'bridge', title: '1. Bridge overhead (one ioctl)', figures, ratios, targets, notes };
}
