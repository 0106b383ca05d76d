/**
 * Nothing a caller passes may crash the process: wrong types are TypeErrors, values that do not fit the
 * kernel's fields are RangeErrors, handles of the wrong kind are TypeErrors (Node-API type tags), and
 * closed handles are EBADF. Each case calls the raw addon, where the C++ checks live.
 */
import { closeSync, openSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { addon } from './helpers.js';

type Fn = (...args: unknown[]) => unknown;
const raw = addon as unknown as Record<string, Fn>;
const call = (name: string, ...args: unknown[]) => () => raw[name]!(...args);

const dev = addon.kfdOpen('/dev/null');
const map = addon.memAlloc(4096);
const nullFd = openSync('/dev/null', 'r');
const smi = addon.smiAdopt(nullFd);

afterAll(() => {
  addon.kfdClose(dev);
  addon.memFree(map.handle);
  addon.smiClose(smi);
  closeSync(nullFd);
});

const notHandles: unknown[] = [undefined, null, 1, 'x', {}, [], 1n, () => 0, Symbol('s'), map.buffer];

describe('handles', () => {
  it.each(['kfdGetVersion', 'kfdGetProcessApertures', 'kfdClose', 'kfdIsOpen'])(
    '%s rejects anything but a device handle with TypeError',
    (fn) => {
      for (const h of [...notHandles, map.handle, smi]) expect(call(fn, h)).toThrow(TypeError);
    },
  );
  it('memory and SMI functions reject other kinds of handle with TypeError', () => {
    for (const h of [...notHandles, dev, smi]) {
      expect(call('memFree', h)).toThrow(TypeError);
      expect(call('memIsFreed', h)).toThrow(TypeError);
    }
    for (const h of [...notHandles, dev, map.handle]) {
      expect(call('smiRead', h)).toThrow(TypeError);
      expect(call('smiSetMask', h, 1n)).toThrow(TypeError);
      expect(call('smiClose', h)).toThrow(TypeError);
    }
  });
});

describe('numbers', () => {
  it('u32 arguments: non-numbers TypeError; negative, fractional, NaN, Infinity, >= 2^32 RangeError', () => {
    for (const bad of ['1', 1n, null, undefined, {}]) {
      expect(call('kfdAvailableMemory', dev, bad)).toThrow(TypeError);
      expect(call('kfdAcquireVm', dev, bad, '/dev/null')).toThrow(TypeError);
      expect(call('kfdSmiOpen', dev, bad, 1n)).toThrow(TypeError);
    }
    for (const bad of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 32]) {
      expect(call('kfdAvailableMemory', dev, bad)).toThrow(RangeError);
      expect(call('kfdSvmSync', dev, bad, 4096n, 4096n, [])).toThrow(RangeError);
    }
  });
  it('xnack mode is an i32', () => {
    expect(call('kfdSetXnackMode', dev, 2 ** 31)).toThrow(RangeError);
    expect(call('kfdSetXnackMode', dev, '1')).toThrow(TypeError);
    expect(call('kfdSetXnackMode', dev, -1)).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
  });
  it('u64 arguments must be bigint in [0, 2^64-1]', () => {
    expect(call('kfdSvmSync', dev, 1, 4096, 4096n, [])).toThrow(TypeError);
    expect(call('kfdSvmSync', dev, 1, -1n, 4096n, [])).toThrow(RangeError);
    expect(call('kfdSvmSync', dev, 1, 4096n, 1n << 64n, [])).toThrow(RangeError);
    expect(call('kfdSmiOpen', dev, 1, -1n)).toThrow(RangeError);
    expect(call('memPeek', -4096n, 1)).toThrow(RangeError);
    // 2^64-1 itself fits: the kernel (here /dev/null) gets it.
    expect(call('kfdSvmSync', dev, 1, (1n << 64n) - 1n, 4096n, [])).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
  });
  it('alloc sizes: non-numbers TypeError; negative, NaN, fractional, > 2^53-1 RangeError', () => {
    for (const bad of ['4096', 4096n, null, {}]) expect(call('memAlloc', bad)).toThrow(TypeError);
    for (const bad of [-1, -4096, NaN, 4096.5, Infinity, 2 ** 53]) expect(call('memAlloc', bad)).toThrow(RangeError);
    expect(call('memAlloc', 4096, 'yes')).toThrow(TypeError);
    expect(call('memPeek', 4096n, 2 ** 31)).toThrow(RangeError);
  });
});

describe('SVM attribute arrays', () => {
  it('must be an array of { type, value } u32 pairs', () => {
    const svm = (attrs: unknown) => call('kfdSvmSync', dev, 1, 4096n, 4096n, attrs);
    expect(svm({ length: 1 })).toThrow(TypeError);
    expect(svm([1])).toThrow(TypeError);
    expect(svm([null])).toThrow(TypeError);
    expect(svm([{ type: '0', value: 0 }])).toThrow(TypeError);
    expect(svm([{ type: 0 }])).toThrow(TypeError);
    expect(svm([{ type: 0, value: -1 }])).toThrow(RangeError);
    expect(svm([{ type: 0, value: 2 ** 32 }])).toThrow(RangeError);
    // A getter that throws propagates as that error, not a crash.
    expect(svm([{ type: 0, get value() { throw new SyntaxError('boom'); } }])).toThrow(SyntaxError);
  });
  it('at most 2044 attributes fit the 14 size bits of the ioctl number', () => {
    const a = (n: number) => Array.from({ length: n }, () => ({ type: 0, value: 0 }));
    expect(addon.abi.svmMaxAttrs).toBe(2044);
    expect(call('kfdSvmSync', dev, 1, 4096n, 4096n, a(2044))).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
    expect(call('kfdSvmSync', dev, 1, 4096n, 4096n, a(2045))).toThrow(RangeError);
    expect(() => addon.kfdSvmAsync(dev, 0, 4096n, 4096n, a(2045))).toThrow(RangeError);
  });
});

describe('strings and arity', () => {
  it('paths must be non-empty strings without NUL', () => {
    expect(call('kfdOpen', 1)).toThrow(TypeError);
    expect(call('kfdOpen', '')).toThrow(TypeError);
    expect(call('kfdOpen', '/dev/null\0/etc')).toThrow(TypeError);
    expect(call('kfdAcquireVm', dev, 1, '/dev/\0null')).toThrow(TypeError);
  });
  it('missing arguments are TypeErrors', () => {
    for (const fn of ['kfdOpen', 'kfdGetVersion', 'memAlloc', 'memPeek', 'kfdSvmSync', 'kfdSvmAsync', 'smiAdopt']) {
      expect(call(fn)).toThrow(TypeError);
    }
  });
  it('smiAdopt of a closed or invalid fd is EBADF; of a huge number, RangeError', () => {
    expect(call('smiAdopt', 987654)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'fcntl' }));
    expect(call('smiAdopt', 2 ** 31)).toThrow(RangeError);
  });
});
