import type { Device } from '../../index.js';
import { UsageError } from '../errors.js';
import type { Command } from 'commander';

export interface GlobalOptions {
  backend?: 'auto' | 'kfd' | 'sim';
  profile?: string;
}

/** --backend and --profile, given before or after the command name. */
export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  return {
    ...(o.backend !== undefined ? { backend: o.backend } : {}),
    ...(o.profile !== undefined ? { profile: o.profile } : {}),
  };
}

/**
 * open() with the command line's options. open() answers 'EARG' only for its options (an unknown profile,
 * a bad KFD_SVM_BACKEND): that is a usage error (exit 2), with open's hint.
 */
export async function openDevice(global: GlobalOptions): Promise<Device> {
  // Loaded on use: `--help` and usage errors should not pay for the backends.
  const { open, isSvmError } = await import('../../index.js');
  try {
    return await open(global);
  } catch (e) {
    if (isSvmError(e, 'EARG')) throw new UsageError(`${e.message.replace(/^open: /, '')}${e.hint ? `\nhint: ${e.hint}` : ''}`);
    throw e;
  }
}
