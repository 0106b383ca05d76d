import { SvmError } from '../../../src/errors.js';

/** The SvmError code a call throws, or undefined when it returns; any other throw fails the test. */
export function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof SvmError) return e.code;
    throw e;
  }
  return undefined;
}

/** The SvmError a call throws; a call that returns, or throws anything else, fails the test. */
export function svmErrorOf(f: () => unknown): SvmError {
  try {
    f();
  } catch (e) {
    if (e instanceof SvmError) return e;
    throw e;
  }
  throw new Error('expected the call to throw an SvmError; it returned');
}
