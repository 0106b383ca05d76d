/**
 * One error as a person reads it on stderr: the message, the kernel's errno where there is one, and the
 * hint. No stack trace unless KFD_SVM_DEBUG is set (a stack is for developers, not for a smoke run).
 */
interface ErrorLike {
  message?: unknown;
  code?: unknown;
  errno?: unknown;
  hint?: unknown;
  stack?: unknown;
}

export function describeError(e: unknown, debug = false): string {
  if (typeof e !== 'object' || e === null) return `kfd-svm: error: ${String(e)}`;
  const err = e as ErrorLike;
  const lines = [`kfd-svm: error: ${String(err.message ?? e)}`];
  if (typeof err.code === 'string' && !String(err.message).includes(err.code)) lines[0] += ` [${err.code}]`;
  if (typeof err.hint === 'string' && err.hint) lines.push(`hint: ${err.hint}`);
  if (debug && typeof err.stack === 'string') lines.push(err.stack);
  return lines.join('\n');
}
