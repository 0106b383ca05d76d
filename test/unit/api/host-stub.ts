import type { RangeHost } from '../../../src/range-host.js';

/** Just enough of a Device for an SvmBuffer's copy and view paths (no kernel call is made by them). */
export function hostStub(): RangeHost {
  return {
    impl: undefined as never,
    gpus: [],
    closed: false,
    call: (_op, fn) => fn(),
    enqueue: async () => undefined,
    release: () => undefined,
  };
}
