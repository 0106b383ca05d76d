/** Sizes beyond what the machine can back: the simulator models a 64 GiB range without host memory. */
import { expect, it } from 'vitest';
import { open } from '../../../src/index.js';
import { svmErrorOf } from './svm-error-code.js';

it('a 64 GiB buffer works for attributes and prefetch; its bytes are EBACKEND, not a crash', async () => {
  const device = await open({ backend: 'sim', profile: 'mi250x' });
  try {
    const g = device.gpus[0];
    if (!g) throw new Error('mi250x has GPUs');
    const buf = await device.alloc(64 * 2 ** 30, { align2M: true });
    expect(buf.size).toBe(64 * 2 ** 30);
    await buf.set({ preferredLocation: g, granularity: 18 });
    await buf.prefetch(g, { offset: 32 * 2 ** 30, length: 2 ** 30 });
    const st = buf.get({ offset: 32 * 2 ** 30, length: 2 ** 30 });
    expect(st.prefetchLocation).toBe(g);
    expect(buf.get().prefetchLocation).toBe('undefined');
    expect(svmErrorOf(() => buf.bytes).code).toBe('EBACKEND');
  } finally {
    await device.close();
  }
});
