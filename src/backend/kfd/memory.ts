/** MappedMemory over the addon's mmap allocations. */
import { constants as bufferConstants } from 'node:buffer';
import type { MappedMemory } from '../contract.js';
import { ExternalBuffersForbiddenError } from '../errors.js';
import type { NativeAddon, NativeMapping } from './addon.js';
import { native } from './errors.js';

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

  /**
   * The memory as an ArrayBuffer (no copy). Throws once freed (the buffer is detached then), a RangeError
   * for a mapping larger than the runtime's largest ArrayBuffer, and ExternalBuffersForbiddenError where the
   * runtime gave none (the addon's memAlloc answered buffer: null).
   */
  get buffer(): ArrayBuffer {
    if (this.freed) {
      throw new Error(`kfd-svm: the mapping at 0x${this.address.toString(16)} was freed; its buffer is detached`);
    }
    if (this.native.buffer === null && this.size > bufferConstants.MAX_LENGTH) {
      // The backend asked for no ArrayBuffer (memAlloc's wantBuffer): Node makes none this large.
      throw new RangeError(
        `kfd-svm: the mapping at 0x${this.address.toString(16)} (${this.size} bytes) is larger than this ` +
          `runtime's largest ArrayBuffer (buffer.constants.MAX_LENGTH = ${bufferConstants.MAX_LENGTH}); read() and write() copy any part of it`,
      );
    }
    if (this.native.buffer === null) {
      throw new ExternalBuffersForbiddenError(
        'kfd-svm: this runtime forbids external ArrayBuffers (Electron 21+ and its V8 memory cage), so the ' +
          `mapping at 0x${this.address.toString(16)} cannot be viewed in place; read() and write() copy`,
      );
    }
    return this.native.buffer;
  }

  /** One memRead: its EFAULT (a freed mapping) becomes a KernelError; argument errors pass through. */
  read(offset: number, target: ArrayBufferView): void {
    requireCopy(this.addon, 'memRead');
    native(() => this.addon.memRead(this.native.handle, offset, target));
  }

  write(offset: number, source: ArrayBufferView): void {
    requireCopy(this.addon, 'memWrite');
    native(() => this.addon.memWrite(this.native.handle, offset, source));
  }

  get freed(): boolean {
    return this.addon.memIsFreed(this.native.handle);
  }

  /** Detaches every view of the buffer, then unmaps. Idempotent. */
  free(): void {
    this.addon.memFree(this.native.handle);
  }
}

/**
 * A binary built before memRead/memWrite existed (a stale build/Release, which node-gyp-build loads before
 * the prebuild) lacks them: say so, rather than "this.addon.memRead is not a function".
 */
function requireCopy(addon: NativeAddon, name: 'memRead' | 'memWrite'): void {
  if (typeof addon[name] !== 'function') {
    throw new Error(
      `kfd-svm: the loaded native addon has no ${name}: it was built from older sources (a stale build/Release?); ` +
        'rebuild it with `npm run build:native`',
    );
  }
}
