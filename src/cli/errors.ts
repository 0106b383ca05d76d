/**
 * Exit codes, as schedulers and shells read them: 0 all good, 1 something failed (a check, a node, the
 * device), 2 the command line was wrong (unknown command or option, a bad value, a missing directory).
 */
export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

/** A mistake in the command line found after parsing (e.g. a --gpu that names no GPU of this machine). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
