/** SmiEventSource over an SMI event fd held by the addon. */
import type { SmiEventSource } from '../contract.js';
import type { NativeAddon, NativeSmiHandle } from './addon.js';
import { native, nativeAsync } from './errors.js';

export class KfdSmiEventSource implements SmiEventSource {
  constructor(
    private readonly addon: NativeAddon,
    private readonly handle: NativeSmiHandle,
  ) {}

  /** The next chunk of event lines; '' once closed. A second concurrent read rejects (KernelError EBUSY). */
  read(): Promise<string> {
    return nativeAsync(() => this.addon.smiRead(this.handle));
  }

  setMask(mask: bigint): void {
    native(() => this.addon.smiSetMask(this.handle, mask));
  }

  close(): void {
    this.addon.smiClose(this.handle);
  }
}
