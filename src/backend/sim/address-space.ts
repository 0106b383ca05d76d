/**
 * The simulated process's address space: its VMAs (as runs, so adjacent anonymous mappings merge the way
 * the kernel merges compatible VMAs) and the mappings `alloc()` handed out. Memory contents are a real
 * ArrayBuffer created on first `buffer` access (or first `write`), so mapping 64 GiB costs what mapping 4 KiB
 * does.
 */
import { Errno, PAGE_SHIFT, PAGE_SIZE } from '../abi.js';
import type { AllocOptions, MappedMemory } from '../contract.js';
import { viewByteLength } from '../views.js';
import { KernelError } from '../errors.js';
import { IntervalMap, RunMap } from './interval-map.js';

/** 'anon': an anonymous private mapping; 'device': VM_IO | VM_PFNMAP (a device mmap, e.g. a doorbell page). */
export type VmaKind = 'anon' | 'device';

/** Where top-down mmap starts handing out addresses (below the stack, as on x86-64). */
export const MMAP_TOP = 0x7f0000000000n;
/** Above this the model keeps a mapping's contents unbacked (`buffer` throws RangeError). */
export const DEFAULT_MAX_BACKED_BYTES = 4 * 1024 ** 3;
const HUGE_PAGES = (2 * 1024 * 1024) / PAGE_SIZE;

class SimMapping implements MappedMemory {
  private backing: ArrayBuffer | undefined;
  private isFreed = false;

  constructor(
    private readonly space: AddressSpace,
    readonly address: bigint,
    readonly size: number,
    readonly kind: VmaKind,
  ) {}

  get startPage(): number {
    return Number(this.address >> BigInt(PAGE_SHIFT));
  }

  get buffer(): ArrayBuffer {
    if (this.isFreed) throw new Error(`memory at 0x${this.address.toString(16)} was freed`);
    if (!this.backing) {
      if (this.size > this.space.maxBackedBytes) {
        throw new RangeError(
          `the simulator does not back mappings above ${this.space.maxBackedBytes} bytes with memory ` +
            `(this one is ${this.size}); it exists in the model only`,
        );
      }
      this.backing = new ArrayBuffer(this.size);
    }
    return this.backing;
  }

  get freed(): boolean {
    return this.isFreed;
  }

  /**
   * Copies out of the memory, with the addon's checks in the addon's order (native/memory.cc memRead), so
   * both backends answer misuse alike. Memory never backed reads as zeros (anonymous memory is zero-filled)
   * and stays unbacked. The copy is a CPU access, as the addon's memcpy is: device-private pages it touches
   * fault back to system memory first (svm_migrate_to_ram), coherent ones are read in place.
   */
  read(offset: number, target: ArrayBufferView): void {
    checkOffset(offset);
    const dst = viewBytes(target, 'target');
    this.checkSpan(offset, dst.length);
    if (dst.length === 0) return;
    this.touch(offset, dst.length);
    if (this.backing) dst.set(new Uint8Array(this.backing, offset, dst.length)); // set() copies overlaps right
    else dst.fill(0);
  }

  /** Copies into the memory (backing it first, as `buffer` does); the checks and the CPU access of `read`. */
  write(offset: number, source: ArrayBufferView): void {
    checkOffset(offset);
    const src = viewBytes(source, 'source');
    this.checkSpan(offset, src.length);
    if (src.length === 0) return;
    // The backing first: a mapping too large to back refuses the write before any page is touched.
    const dst = new Uint8Array(this.buffer, offset, src.length);
    this.touch(offset, src.length);
    dst.set(src);
  }

  /** The CPU touches the pages of [offset, offset + n) (the process's fault handling, see AddressSpace). */
  private touch(offset: number, n: number): void {
    const first = this.startPage + Math.floor(offset / PAGE_SIZE);
    this.space.cpuTouch(first, this.startPage + Math.ceil((offset + n) / PAGE_SIZE));
  }

  /** memRead's checks after the arguments': a live mapping (EFAULT), then the span inside it. */
  private checkSpan(offset: number, n: number): void {
    if (this.isFreed) {
      throw new KernelError(Errno.EFAULT, 'memcpy', undefined, `the mapping at 0x${this.address.toString(16)} was freed`);
    }
    if (offset > this.size || n > this.size - offset) {
      throw new RangeError(`offset ${offset} + length ${n} is outside the mapping of ${this.size} bytes`);
    }
  }

  /** True once `buffer` was read (the memory exists on the host). */
  get backed(): boolean {
    return this.backing !== undefined;
  }

  free(): void {
    if (this.isFreed) return;
    this.isFreed = true;
    this.backing = undefined;
    this.space.unmap(this);
  }
}

/** An offset the addon accepts (native/args.cc ArgSize): a Number that is an integer in [0, 2^53-1]. */
function checkOffset(offset: unknown): asserts offset is number {
  if (typeof offset !== 'number') throw new TypeError('offset must be a number');
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`offset must be an integer in [0, ${Number.MAX_SAFE_INTEGER}]`);
  }
}

/**
 * The bytes of a TypedArray, Buffer or DataView (what the addon's ArgView accepts): TypeError for anything
 * else (a Proxy included: ArrayBuffer.isView answers false for it, as napi_is_typedarray does), and for a
 * view of a detached buffer.
 */
function viewBytes(v: unknown, name: string): Uint8Array {
  const n = viewByteLength(v);
  if (n === 'not-a-view') throw new TypeError(`${name} must be a TypedArray, Buffer or DataView`);
  if (n === 'detached') throw new TypeError(`${name} is a view of a detached ArrayBuffer`);
  const view = v as ArrayBufferView;
  return new Uint8Array(view.buffer, view.byteOffset, n);
}

export class AddressSpace {
  /** The VMAs, as runs of equal kind. */
  readonly vmas = new RunMap<VmaKind>();
  private readonly mappings = new IntervalMap<SimMapping>();
  /** Lowest page handed out so far; the next mapping goes right below it (top-down, like mmap). */
  private low = Number(MMAP_TOP >> BigInt(PAGE_SHIFT));

  constructor(
    readonly maxBackedBytes: number,
    /** Called before pages leave the address space (the MMU notifier's MMU_NOTIFY_UNMAP). */
    private readonly onUnmap: (startPage: number, endPage: number) => void,
    /** Called when a copy in or out of a mapping touches pages [startPage, endPage) from the CPU. */
    readonly cpuTouch: (startPage: number, endPage: number) => void,
  ) {}

  map(size: number, options: AllocOptions | undefined, kind: VmaKind): MappedMemory {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`size must be a non-negative safe integer number of bytes, got ${String(size)}`);
    }
    // mmap(2): a zero length is EINVAL; any other length is rounded up to whole pages.
    if (size === 0) throw new KernelError(Errno.EINVAL, 'mmap', undefined, 'zero length');
    const pages = Math.ceil(size / PAGE_SIZE);
    let start = this.low - pages;
    if (options?.align2M) start -= start % HUGE_PAGES;
    if (start <= 0) throw new KernelError(Errno.ENOMEM, 'mmap', undefined, 'address space exhausted');
    this.low = start;
    const m = new SimMapping(this, BigInt(start) << BigInt(PAGE_SHIFT), pages * PAGE_SIZE, kind);
    this.mappings.insert(start, start + pages, m);
    this.vmas.assign(start, start + pages, kind);
    return m;
  }

  unmap(m: SimMapping): void {
    const start = m.startPage;
    const end = start + m.size / PAGE_SIZE;
    this.onUnmap(start, end);
    this.vmas.assign(start, end, undefined);
    this.mappings.delete(start);
  }

  /** The mapping that holds page `p`. */
  mappingAt(p: number): MappedMemory | undefined {
    return this.mappings.at(p)?.value;
  }

  /** Every live mapping. */
  all(): MappedMemory[] {
    return this.mappings.all().map((i) => i.value);
  }

  /** Unmaps everything (process exit). */
  freeAll(): void {
    for (const m of this.mappings.all()) m.value.free();
  }
}
