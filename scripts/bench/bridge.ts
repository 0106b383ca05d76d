/**
 * 1. Bridge overhead: one ioctl through our addon, the same ioctl from a C loop (the floor) and through koffi
 * calling libc's ioctl (what a Node user would pick instead).
 *
 * With /dev/kfd: AMDKFD_IOC_GET_VERSION, which the kernel answers (kfd_ioctl_get_version). Without it: the
 * same request number on /dev/null, which the kernel rejects cheaply with ENOTTY (vfs_ioctl: null_fops has
 * no unlocked_ioctl) — the same syscall entry and fd lookup, no driver work. There the addon would take its
 * error path (build and throw an errno error), which a real GET_VERSION never takes; so the addon and the C
 * floor run under answer-shim.c, which keeps the kernel's rejection but hands the caller KFD's answer, and
 * the addon's rejected path is measured on its own.
 *
 * Each JS case runs in a fresh child process (bridge-child.ts); each round runs every case once, in a
 * rotating order, and ratios are taken round by round.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC, nodeApiIncludeDir, runCLoop } from './cloop.js';
import type { Figure, SectionResult, Target } from './report-types.js';
import { fmtSummary, num } from './report.js';
import { pairedDiff, pairedRatio, summarize } from './stats.js';

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
  /** What the kernel answers: 0 on /dev/kfd, ENOTTY on /dev/null. */
  kernelErrno: number;
  description: string;
}

/** /dev/kfd with GET_VERSION when it opens; /dev/null with the same number otherwise (or when forced). */
export function chooseIoctl(forceNull = false): IoctlChoice {
  const hex = `0x${AMDKFD_IOC_GET_VERSION.toString(16)}`;
  if (!forceNull && canOpen('/dev/kfd')) {
    return {
      device: '/dev/kfd',
      request: AMDKFD_IOC_GET_VERSION,
      kernelErrno: 0,
      description: `AMDKFD_IOC_GET_VERSION (${hex}) on /dev/kfd: a real KFD ioctl, answered by the driver`,
    };
  }
  return {
    device: '/dev/null',
    request: AMDKFD_IOC_GET_VERSION,
    kernelErrno: ENOTTY,
    description:
      `${forceNull ? '--null' : 'no /dev/kfd here'}: the GET_VERSION request number (${hex}) on /dev/null, which the ` +
      'kernel rejects with ENOTTY (no ioctl handler): the same syscall entry, no driver work',
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

type ChildCase = 'addon' | 'addon-rejected' | 'addon-errno' | 'backend' | 'backend-rejected' | 'koffi' | 'napi-floor';
type ChildResult = { nsPerCall: number; description: string } | { unavailable: string };

const childScript = join(dirname(fileURLToPath(import.meta.url)), 'bridge-child.js');

function runChild(
  kind: ChildCase,
  c: IoctlChoice,
  n: number,
  errno: number,
  env: NodeJS.ProcessEnv,
  extra: readonly string[] = [],
): ChildResult {
  let out: string;
  try {
    out = execFileSync(process.execPath, [childScript, kind, c.device, c.request.toString(16), String(n), String(errno), ...extra], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`bench: bridge child '${kind}' failed: ${(err.stdout || err.stderr || err.message).trim()}`);
  }
  const last = out.trim().split('\n').pop() ?? '';
  const parsed = JSON.parse(last) as Partial<{ nsPerCall: number; description: string; unavailable: string; error: string }>;
  if (parsed.error !== undefined) throw new Error(`bench: bridge child '${kind}': ${parsed.error}`);
  if (parsed.unavailable !== undefined) return { unavailable: parsed.unavailable };
  if (typeof parsed.nsPerCall !== 'number') throw new Error(`bench: bridge child '${kind}' printed ${last}`);
  return { nsPerCall: parsed.nsPerCall, description: parsed.description ?? kind };
}

const ns = (r: ChildResult): number => ('nsPerCall' in r ? r.nsPerCall : Number.NaN);

export async function benchBridge(opts: BridgeOptions): Promise<SectionResult> {
  const choice = chooseIoctl(opts.forceNull);
  const n = opts.iterations;
  const notes: string[] = [`ioctl: ${choice.description}.`];

  const bin = compileC('ioctl-loop.c');
  const plainEnv: NodeJS.ProcessEnv = { ...process.env };
  delete plainEnv['LD_PRELOAD'];
  let answeredEnv = plainEnv;
  if (choice.kernelErrno !== 0) {
    const shim = compileC('answer-shim.c', true);
    answeredEnv = { ...plainEnv, LD_PRELOAD: shim };
    notes.push(
      'the C floor and the addon run under answer-shim.c (LD_PRELOAD): the syscall still runs and is rejected, the shim' +
        " hands back KFD's answer (1.17) so the addon takes the path a real GET_VERSION takes. koffi runs without the" +
        ' shim (its loop never reads errno, so ENOTTY costs it nothing extra) and is compared with the C loop without' +
        ' the shim, which also shows what the shim costs.',
    );
  }
  // The answered path's errno: 0 both on /dev/kfd and under the shim.
  const probe = runCLoop(bin, choice.device, choice.request, 10, 1, answeredEnv)[0]!;
  if (probe.errno !== 0 || probe.ret !== 0) {
    throw new Error(`bench: the C loop got ret ${probe.ret} errno ${probe.errno} from ${choice.device}, expected 0`);
  }

  // The N-API floor: what any addon pays to call into native code for this ioctl (needs the Node-API headers).
  const napiInclude = nodeApiIncludeDir();
  const floorPath = napiInclude ? compileC('napi-floor.c', true, { ext: '.node', includes: [napiInclude] }) : undefined;
  if (!floorPath) notes.push('N-API floor: not measured (no node_api.h beside node or in node_modules/node-api-headers).');

  const first = runChild('addon', choice, 1000, 0, answeredEnv);
  const addonOk = 'nsPerCall' in first;
  if (addonOk) {
    notes.push(
      `addon: ${first.description} (through loadAddon()); "Backend.version()" is the same call one layer up,` +
        ' through openKfdBackend({ devicePath }) and its error mapping.',
    );
  }
  else notes.push(`addon: not measured: ${first.unavailable}.`);
  notes.push(`koffi: koffi 3 calling libc's ioctl(int, unsigned long, void *) with a Buffer (fixed prototype).`);
  if (floorPath) {
    notes.push(
      'N-API floor: scripts/bench/napi-floor.c, a Node-API function that only issues the ioctl and returns errno' +
        ' (no handle check, no result object, no exception), compiled at run time; like koffi it runs without the' +
        ' shim and is compared with the C loop without it:' +
        ' what calling into native code from Node costs at all, apart from the addon\'s own choices.',
    );
  }
  notes.push(
    `${opts.rounds} rounds of ${num(n)} calls per case; each JS case in a fresh process (warmed up with a tenth of the` +
      ' calls first), cases in rotating order within a round. Times are CPU time (user + system) of the measuring' +
      ' process, for the C loop and the JS cases alike: equal to wall time on an idle machine, and steady on a shared' +
      ' one (wall time swung by about 30% between runs here while other builds ran; CPU time by about 2%).',
  );

  const c: number[] = [];
  const cRaw: number[] = [];
  const k: number[] = [];
  const a: number[] = [];
  const be: number[] = [];
  const nf: number[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const cases: Array<() => void> = [
      () => c.push(runCLoop(bin, choice.device, choice.request, n, 1, answeredEnv)[0]!.nsPerCall),
      () => k.push(ns(runChild('koffi', choice, n, choice.kernelErrno, plainEnv))),
    ];
    if (answeredEnv !== plainEnv) {
      cases.push(() => cRaw.push(runCLoop(bin, choice.device, choice.request, n, 1, plainEnv)[0]!.nsPerCall));
    }
    // Without the shim: the floor returns errno either way, so it needs no answer (like koffi).
    if (floorPath) cases.push(() => nf.push(ns(runChild('napi-floor', choice, n, choice.kernelErrno, plainEnv, [floorPath]))));
    if (addonOk) {
      cases.push(() => a.push(ns(runChild('addon', choice, n, 0, answeredEnv))));
      cases.push(() => be.push(ns(runChild('backend', choice, n, 0, answeredEnv))));
    }
    for (let i = 0; i < cases.length; i++) cases[(i + r) % cases.length]!();
  }

  const figures: Figure[] = [{ label: 'C loop (floor)', unit: 'ns/call', value: summarize(c) }];
  if (cRaw.length > 0) figures.push({ label: 'C loop without shim', unit: 'ns/call', value: summarize(cRaw) });
  if (floorPath) figures.push({ label: 'N-API floor (minimal addon)', unit: 'ns/call', value: summarize(nf) });
  if (addonOk) figures.push({ label: 'addon', unit: 'ns/call', value: summarize(a) });
  if (addonOk && be.every(Number.isFinite)) {
    figures.push({ label: 'Backend.version() over the addon', unit: 'ns/call', value: summarize(be) });
  }
  figures.push({ label: 'koffi', unit: 'ns/call', value: summarize(k) });
  const plainC = cRaw.length > 0 ? cRaw : c;
  if (floorPath) figures.push({ label: 'N-API floor overhead above C', unit: 'ns/call', value: pairedDiff(nf, plainC) });
  if (addonOk) figures.push({ label: 'addon overhead above C', unit: 'ns/call', value: pairedDiff(a, c) });
  figures.push({ label: 'koffi overhead above C', unit: 'ns/call', value: pairedDiff(k, plainC) });

  // The rejected path, where there is one: what a failing quick call costs. Three ways: the addon's throwing
  // mode (an errno Error built and thrown in C++), its errno mode (-errno returned), and Backend.version(),
  // which uses errno mode and throws the one KernelError a caller sees.
  if (addonOk && choice.kernelErrno !== 0) {
    const rn = Math.max(200, Math.floor(n / 50));
    const rr = Math.min(opts.rounds, 5);
    const rej: number[] = [];
    const rejErrno: number[] = [];
    const rejBackend: number[] = [];
    const rejC: number[] = [];
    for (let r = 0; r < rr; r++) {
      rej.push(ns(runChild('addon-rejected', choice, rn, choice.kernelErrno, plainEnv)));
      rejErrno.push(ns(runChild('addon-errno', choice, rn, choice.kernelErrno, plainEnv)));
      rejBackend.push(ns(runChild('backend-rejected', choice, rn, choice.kernelErrno, plainEnv)));
      rejC.push(runCLoop(bin, choice.device, choice.request, rn, 1, plainEnv)[0]!.nsPerCall);
    }
    const cMedian = summarize(rejC).median;
    const times = (xs: number[]) => (xs.every(Number.isFinite) ? `${num(summarize(xs).median / cMedian)}×` : 'not measured');
    figures.push({ label: 'addon, rejected call (throws)', unit: 'ns/call', value: summarize(rej) });
    if (rejErrno.every(Number.isFinite)) {
      figures.push({ label: 'addon, rejected call, errno mode (returns -errno)', unit: 'ns/call', value: summarize(rejErrno) });
    }
    if (rejBackend.every(Number.isFinite)) {
      figures.push({ label: 'Backend.version(), rejected (throws one KernelError)', unit: 'ns/call', value: summarize(rejBackend) });
    }
    notes.push(
      `rejected path: without the shim, ${rr} rounds of ${num(rn)} calls each, against the C loop's ENOTTY:` +
        ` the addon's throwing mode (an errno Error built and thrown in C++) ${times(rej)} the C loop;` +
        ` its errno mode (kfdGetVersion(h, out, true) returns -errno) ${times(rejErrno)};` +
        ` Backend.version(), which uses errno mode and throws the one KernelError callers see, ${times(rejBackend)}.`,
    );
  }

  const ratios: Figure[] = [];
  const targets: Target[] = [];
  if (floorPath) ratios.push({ label: 'N-API floor / C loop', unit: '×', value: pairedRatio(nf, plainC) });
  if (addonOk) {
    const aVsC = pairedRatio(a, c);
    // Share of koffi's added cost that the addon adds, round by round: (a - c) / (k - c_raw).
    const share = summarize(a.map((x, i) => (x - c[i]!) / (k[i]! - plainC[i]!)));
    ratios.push({ label: 'addon / C loop', unit: '×', value: aVsC });
    ratios.push({ label: 'koffi / C loop', unit: '×', value: pairedRatio(k, plainC) });
    ratios.push({ label: 'addon overhead / koffi overhead', unit: '×', value: share });
    if (floorPath) ratios.push({ label: 'addon / N-API floor', unit: '×', value: pairedRatio(a, nf) });
    targets.push({ label: 'addon within 1.25× of the C loop', goal: '≤ 1.25×', measured: fmtSummary(aVsC, '×'), met: aVsC.median <= 1.25 });
    targets.push({
      label: 'addon adds at most a third of what koffi adds',
      goal: '≤ 0.33×',
      measured: fmtSummary(share, '×'),
      met: share.median <= 1 / 3,
    });
  } else {
    ratios.push({ label: 'koffi / C loop', unit: '×', value: pairedRatio(k, plainC) });
    targets.push({ label: 'addon within 1.25× of the C loop', goal: '≤ 1.25×', measured: 'n/a', met: null });
    targets.push({ label: 'addon adds at most a third of what koffi adds', goal: '≤ 0.33×', measured: 'n/a', met: null });
  }
  return { id: 'bridge', title: '1. Bridge overhead (one ioctl)', figures, ratios, targets, notes };
}
