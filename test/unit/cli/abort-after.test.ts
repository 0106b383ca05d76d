import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { abortAfter } from '../../../src/cli/commands/events.js';

describe('events --duration (abortAfter)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('aborts after the delay, also past the 2^31-1 ms setTimeout holds in one go', () => {
    const days30 = 30 * 86_400_000; // setTimeout alone would fire this at once (TimeoutOverflowWarning)
    const stop = new AbortController();
    abortAfter(days30, stop);
    vi.advanceTimersByTime(days30 - 1);
    expect(stop.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(stop.signal.aborted).toBe(true);
  });

  it('the returned cancel stops it', () => {
    const stop = new AbortController();
    const cancel = abortAfter(2 ** 31 + 10, stop);
    vi.advanceTimersByTime(2 ** 31 - 1);
    cancel();
    vi.advanceTimersByTime(1000);
    expect(stop.signal.aborted).toBe(false);
  });
});
