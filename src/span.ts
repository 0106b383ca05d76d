/**
 * Spans: a part of a buffer, by byte offset and length. The API checks spans against the buffer before
 * any kernel call, so a span can never name memory outside the buffer (which the kernel would accept if
 * it happened to be mapped: another buffer's pages).
 */
import { PAGE_SIZE } from './backend/abi.js';
import { SvmError } from './errors.js';
import { describe } from './gpu.js';

/** A part of a buffer: `offset` and `length` in bytes, both multiples of 4096, `length > 0`. */
export interface Span {
  /** Bytes from the start of the buffer; a multiple of 4096. */
  offset: number;
  /** Bytes in the span; a multiple of 4096, more than 0. */
  length: number;
}

/** Validates a span against a buffer of `size` bytes; `undefined` means the whole buffer. */
export function resolveSpan(span: unknown, size: number): Span {
  if (span === undefined) return { offset: 0, length: size };
  if (typeof span !== 'object' || span === null) {
    throw new SvmError('ESPAN', `span: expected { offset, length }, got ${describe(span)}`);
  }
  const { offset, length } = span as { offset?: unknown; length?: unknown };
  for (const [name, v] of [
    ['offset', offset],
    ['length', length],
  ] as const) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new SvmError('ESPAN', `span.${name}: expected a non-negative integer number of bytes, got ${describe(v)}`);
    }
    if (v % PAGE_SIZE !== 0) {
      throw new SvmError('ESPAN', `span.${name} ${v} is not a multiple of the page size (${PAGE_SIZE})`);
    }
  }
  const o = offset as number;
  const l = length as number;
  if (l === 0) throw new SvmError('ESPAN', 'span.length is 0: a span covers at least one page');
  if (o + l > size) {
    throw new SvmError('ESPAN', `span [${o}, ${o + l}) is outside the buffer of ${size} bytes`);
  }
  return { offset: o, length: l };
}
