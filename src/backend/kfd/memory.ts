/** MappedMemory over the addon's mmap allocations. */
import type { MappedMemory } from '../contract.js';
import type { NativeAddon, NativeMapping } from './addon.js';

export class KfdMappedMemory implements MappedMemory {
  readonly address: bigint;
  readonly size: number;
  private readonly native: NativeMapping;

  constructor(
    private readonly addon: NativeAddon,
    native: NativeMapping,
  ) {
    this.native = native;
    this.address = native.address;
    this.size = native.size;
  }

  /** The memory as an ArrayBuffer (no copy). Throws once freed: the buffer is detached then. */
  get buffer(): ArrayBuffer {
    if (this.freed) {
      throw new Error(`kfd-svm: the mapping at 0x${this.address.toString(16)} was freed; its buffer is detached`);
    }
    return this.native.buffer;
  }

  get freed(): boolean {
    return this.addon.memIsFreed(this.native.handle);
  }

  /** Detaches every view of the buffer, then unmaps. Idempotent. */
  free(): void {
    this.addon.memFree(this.native.handle);
  }
}
