/** No fd leaks: open/close loops, failed calls, and handles dropped without close all end at the baseline. */
import { describe, expect, it } from 'vitest';
import { openKfdBackend } from '../../src/backend/kfd/index.js';
import { addon, fdCount, gcUntil } from './helpers.js';

describe('fd accounting', () => {
  it('open/close loops of the device return to the baseline', () => {
    const before = fdCount();
    for (let i = 0; i < 100; i++) {
      const b = openKfdBackend({ devicePath: '/dev/null' });
      if (i % 3 === 0) expect(() => b.version()).toThrow();
      b.close();
    }
    expect(fdCount()).toBe(before);
  });

  it('each open holds exactly one fd until close', () => {
    const before = fdCount();
    const bs = Array.from({ length: 10 }, () => openKfdBackend({ devicePath: '/dev/null' }));
    expect(fdCount()).toBe(before + 10);
    for (const b of bs) b.close();
    expect(fdCount()).toBe(before);
  });

  it('failed opens leave nothing behind', () => {
    const before = fdCount();
    for (let i = 0; i < 50; i++) expect(() => openKfdBackend({ devicePath: '/nonexistent' })).toThrow();
    expect(fdCount()).toBe(before);
  });

  it('a device handle dropped without close is closed by its finalizer', async () => {
    const before = fdCount();
    (() => {
      for (let i = 0; i < 5; i++) addon.kfdOpen('/dev/null');
    })();
    expect(fdCount()).toBe(before + 5);
    expect(await gcUntil(() => fdCount() === before)).toBe(true);
  });

  it('alloc/free loops do not hold fds', () => {
    const before = fdCount();
    for (let i = 0; i < 100; i++) addon.memFree(addon.memAlloc(4096 * ((i % 4) + 1), i % 2 === 0).handle);
    expect(fdCount()).toBe(before);
  });
});
