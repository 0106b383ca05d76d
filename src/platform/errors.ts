/**
 * The errors the platform parsers throw. Every parser throws only subclasses of PlatformError, whatever
 * the input; anything else escaping a parser is a bug (the property tests check it).
 */
export type ParseSource = 'topology' | 'iomem' | 'smi';

export class PlatformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Input that is not what the kernel writes (a malformed line, a value out of range, a broken tree). */
export class ParseError extends PlatformError {
  readonly source: ParseSource;
  /** 1-based line number in the text, when the input is text. */
  readonly line: number | undefined;
  /** Path inside the topology tree, when the input is the tree. */
  readonly path: string | undefined;
  /** The offending text (cut to 200 characters). */
  readonly raw: string | undefined;

  constructor(source: ParseSource, message: string, where: { line?: number; path?: string; raw?: string } = {}) {
    const loc = where.path !== undefined ? ` (${where.path}${where.line !== undefined ? `:${where.line}` : ''})`
      : where.line !== undefined ? ` (line ${where.line})` : '';
    super(`${source}: ${message}${loc}`);
    this.source = source;
    this.line = where.line;
    this.path = where.path;
    this.raw = where.raw === undefined ? undefined : where.raw.slice(0, 200);
  }
}

/**
 * The topology kept changing while it was read (a node vanished mid-read, or generation_id differed
 * between the start and the end of a read) on every one of `attempts` tries.
 */
export class TopologyUnstableError extends PlatformError {
  readonly attempts: number;
  readonly reasons: string[];

  constructor(attempts: number, reasons: string[]) {
    super(`topology: the KFD topology changed while being read, ${attempts} attempts: ${reasons.join('; ')}`);
    this.attempts = attempts;
    this.reasons = reasons;
  }
}

/** The TreeReader itself failed (an I/O error other than "not there", e.g. EACCES under a device cgroup). */
export class TopologyReadError extends PlatformError {
  readonly path: string;
  override readonly cause: unknown;

  constructor(path: string, cause: unknown) {
    super(`topology: reading ${path} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.path = path;
    this.cause = cause;
  }
}
