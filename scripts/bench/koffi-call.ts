/** koffi's side of the bridge benchmark: libc's ioctl through koffi, as a Node user would write it. */
import { closeSync, openSync } from 'node:fs';
import type { QuickCall } from './addon-call.js';

export async function openKoffiCall(device: string, request: number): Promise<QuickCall & { lastErrno(): number }> {
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
  const fd = openSync(device, 'r+');
  const arg = Buffer.alloc(8);
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
