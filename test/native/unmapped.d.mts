export type UnmappedState = 'unmapped' | 'ours' | 'reused' | 'inconsistent';
export declare function mark(view: Uint8Array): string;
export declare function unmappedState(
  peek: (address: bigint, size: number) => Uint8Array,
  address: bigint,
  size: number,
  fingerprint: string | undefined,
): UnmappedState;
export declare function untilUnmapped(
  attempt: (i: number) => UnmappedState | Promise<UnmappedState>,
  tries?: number,
): Promise<UnmappedState[]>;
