import { describe, expect, it } from 'vitest';
import type { NodeReport } from '../../../src/report/node-report.js';
import { CheckFailure, skip } from '../../../src/smoke/assert.js';
import { checkPattern, fillPattern } from '../../../src/smoke/pattern.js';
import { runSmoke } from '../../../src/smoke/runner.js';
import type { SmokeCheck } from '../../../src/smoke/types.js';

const base = { backend: 'sim' as const, profile: 'mi210', host: 'h', toolVersion: '0.0.0' };

function check(id: string, run: SmokeCheck['run'], perGpu = false): SmokeCheck {
  return { id, perGpu, title: (g) => (g ? `${id} on ${g.gpuId}` : id), run };
}

describe('the smoke runner', () => {
  it('turns failures, errors and skips into results, never into a crash', async () => {
    const report = await runSmoke({
      ...base,
      checks: [
        check('passes', async (_env, _g, out) => out.diag('x', 1)),
        check('fails', async () => {
          throw new CheckFailure('data differs', { offset: 4096 });
        }),
        check('throws', async () => {
          throw Object.assign(new Error('ioctl AMDKFD_IOC_SVM failed: EFAULT'), { code: 'EFAULT', errno: 14 });
        }),
        check('skips', async () => skip('not here')),
        check('per-gpu', async () => undefined, true),
      ],
    });
    const by = Object.fromEntries(report.checks.map((c) => [c.id === 'per-gpu' ? `${c.id}:${c.gpuId}` : c.id, c]));
    expect(by['device-open']!.status).toBe('pass');
    expect(by.passes).toMatchObject({ status: 'pass', diagnostics: { x: 1 } });
    expect(by.fails).toMatchObject({ status: 'fail', message: 'data differs', diagnostics: { offset: 4096 } });
    expect(by.throws).toMatchObject({ status: 'fail', diagnostics: { code: 'EFAULT', errno: 14 } });
    expect(by.skips).toMatchObject({ status: 'skip', message: 'not here' });
    expect(report.checks.filter((c) => c.id === 'per-gpu')).toHaveLength(report.gpus.length);
    expect(report).toMatchObject({ complete: true, ok: false, backend: 'sim', profile: 'mi210' });
  });

  it('hands out the report as it grows (complete: false until the end), and skips past the budget', async () => {
    const seen: { id: string; complete: boolean; n: number }[] = [];
    const slow = check('slow', () => new Promise((r) => setTimeout(r, 60)));
    const report = await runSmoke(
      { ...base, budgetSeconds: 0.03, checks: [slow, check('later', async () => undefined), check('last', async () => undefined)] },
      { onResult: (r, rep: NodeReport) => seen.push({ id: r.id, complete: rep.complete, n: rep.checks.length }) },
    );
    expect(seen.map((s) => s.id)).toEqual(['device-open', 'slow', 'later', 'last']);
    expect(seen.every((s, i) => !s.complete && s.n === i + 1)).toBe(true);
    expect(report.checks.slice(2).every((c) => c.status === 'skip' && /time budget of 0.03 s/.test(c.message!))).toBe(true);
    expect(report.ok).toBe(true);
  });

  it('a device that does not open fails the first check and skips the rest', async () => {
    const noDevice = Object.assign(new Error('no /dev/kfd device node'), { code: 'ENODEV' });
    const report = await runSmoke({ ...base, openDevice: () => Promise.reject(noDevice), checks: [check('a', async () => undefined)] });
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['device-open', 'fail'],
      ['a', 'skip'],
    ]);
    expect(report.checks[0]!.diagnostics).toMatchObject({ code: 'ENODEV' });
    expect(report.ok).toBe(false);
  });

  it('rethrows what the caller marks as its own mistake, and a GPU selection error', async () => {
    await expect(runSmoke({ ...base, openDevice: () => Promise.reject(new RangeError('bad profile')), rethrow: (e) => e instanceof RangeError })).rejects.toThrow('bad profile');
    await expect(
      runSmoke({
        ...base,
        selectGpus: () => {
          throw new TypeError('--gpu 9: no such GPU');
        },
      }),
    ).rejects.toThrow('no such GPU');
  });
});

describe('test data patterns', () => {
  it('finds the first differing byte and counts them', () => {
    const b = new Uint8Array(4099);
    fillPattern(b, 7);
    expect(checkPattern(b, 7)).toBeUndefined();
    const want = b[4097]!;
    b[4097] = want ^ 0xff;
    b[4098] = b[4098]! ^ 1;
    expect(checkPattern(b, 7)).toEqual({ offset: 4097, expected: want, actual: want ^ 0xff, count: 2 });
    expect(checkPattern(b, 8)).toBeDefined();
  });
});
