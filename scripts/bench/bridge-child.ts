/**
 * One JS case of the bridge benchmark in a fresh process, so every case starts alike (and the addon's case
 * can run under the answer shim, which must be preloaded at exec).
 *
 *   node bridge-child.js <addon|addon-rejected|addon-errno|backend|backend-rejected|koffi> <device> <request hex> <iterations> <expected errno>
 *   node bridge-child.js napi-floor <device> <request hex> <iterations> <expected errno> <napi-floor .node path>
 *
 * Prints one JSON line: { nsPerCall } or { error }. nsPerCall is CPU time (user + system) of this process, as
 * ioctl-loop.c measures the C loop: on an idle machine it equals wall time; on a shared one (2 cores, other
 * builds running) wall time swung by 30% from run to run, CPU time by about 2%.
 */
import { openAddonQuickCall, openBackendQuickCall, type QuickCall } from './addon-call.js';
import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { openKoffiCall } from './koffi-call.js';

/** CPU time of this process per op, in ns (process.cpuUsage: user + system). */
function cpuTimePerOp(ops: number, fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / ops;
}

async function main(argv: string[]): Promise<void> {
  const [kind, device, requestHex, iterStr, errnoStr, floorPath] = argv;
  const iterations = Number(iterStr);
  const expectErrno = Number(errnoStr);
  if (!kind || !device || !requestHex || !(iterations > 0) || !Number.isInteger(expectErrno)) {
    throw new Error('usage: bridge-child <addon|addon-rejected|addon-errno|backend|backend-rejected|koffi> <device> <request hex> <iterations> <errno>');
  }
  let call: QuickCall;
  if (kind === 'koffi') {
    const k = await openKoffiCall(device, parseInt(requestHex, 16));
    k.run(1);
    if (k.lastErrno() !== expectErrno) throw new Error(`koffi: errno ${k.lastErrno()}, expected ${expectErrno}`);
    call = k;
  } else if (kind === 'napi-floor') {
    if (!floorPath) throw new Error('napi-floor needs the path of the compiled addon');
    const floor = createRequire(import.meta.url)(floorPath) as { ioctlErrno(fd: number, request: number): number };
    const ioctlErrno = floor.ioctlErrno;
    const fd = openSync(device, 'r+');
    const request = parseInt(requestHex, 16);
    const got = ioctlErrno(fd, request);
    if (got !== expectErrno) throw new Error(`napi-floor: errno ${got}, expected ${expectErrno}`);
    call = {
      description: 'a minimal Node-API function: ioctl, return errno',
      run(n: number): void {
        for (let i = 0; i < n; i++) ioctlErrno(fd, request);
      },
      close: () => closeSync(fd),
    };
  } else if (kind === 'addon' || kind === 'addon-rejected' || kind === 'addon-errno' || kind === 'backend' || kind === 'backend-rejected') {
    const a =
      kind === 'backend' || kind === 'backend-rejected'
        ? await openBackendQuickCall(device, expectErrno)
        : await openAddonQuickCall(device, expectErrno, kind === 'addon-errno');
    if (typeof a === 'string') {
      process.stdout.write(JSON.stringify({ unavailable: a }) + '\n');
      return;
    }
    call = a;
  } else {
    throw new Error(`bridge-child: unknown case ${kind}`);
  }
  // Warm-up so the loop is optimized before it is timed.
  call.run(Math.max(1000, Math.floor(iterations / 10)));
  const nsPerCall = cpuTimePerOp(iterations, () => call.run(iterations));
  call.close();
  process.stdout.write(JSON.stringify({ nsPerCall, description: call.description }) + '\n');
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stdout.write(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }) + '\n');
  process.exitCode = 1;
});
