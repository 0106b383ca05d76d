/**
 * Decoding of HMM_DMIRROR_SNAPSHOT bytes (lib/test_hmm_uapi.h, dmirror_mkentry in lib/test_hmm.c) and the
 * per-step page-state summary that the kernel run and the simulator are compared on.
 */

/** Where a page is, as HMM_DMIRROR_SNAPSHOT reports it from the asking device's point of view. */
export type PageState =
  | 'none'
  | 'system'
  | 'zero'
  | 'private-local'
  | 'private-remote'
  | 'coherent-local'
  | 'coherent-remote'
  | 'error';

/** HMM_DMIRROR_PROT_*: the high nibble is the kind of page, the low bits the access. */
export function decodeSnapshot(b: number): { state: PageState; write: boolean; pmd: boolean } {
  if (b === 0xff) return { state: 'error', write: false, pmd: false };
  const kind = b & 0xf0;
  const access = b & 0x03;
  const state: PageState | undefined =
    kind === 0x00 ? (access === 0 ? 'none' : 'system')
    : kind === 0x10 ? 'zero'
    : kind === 0x20 ? 'private-local'
    : kind === 0x30 ? 'private-remote'
    : kind === 0x40 ? 'coherent-local'
    : kind === 0x50 ? 'coherent-remote'
    : undefined;
  if (state === undefined) throw new RangeError(`not an HMM_DMIRROR_PROT value: 0x${b.toString(16)}`);
  return { state, write: (b & 0x02) !== 0, pmd: (b & 0x04) !== 0 };
}

/** The state every page of a snapshot shares; throws if the pages disagree. */
export function uniformState(bytes: readonly number[]): PageState {
  const states = new Set(bytes.map((b) => decodeSnapshot(b).state));
  if (states.size !== 1) throw new Error(`pages disagree: ${[...states].join(', ')}`);
  return [...states][0] as PageState;
}

/** Where the data lives, which is what the sim models: on the device or in system memory. */
export type Residence = 'device' | 'system';
export function residence(s: PageState): Residence {
  if (s === 'private-local' || s === 'coherent-local' || s === 'coherent-remote' || s === 'private-remote') return 'device';
  if (s === 'system') return 'system';
  throw new Error(`page state ${s} says nothing about residence`);
}

/** The steps compared between the kernel (test_hmm) and the sim. */
export interface ResidenceTrace {
  afterMigrate: Residence;
  afterCpuRead: Residence;
  afterCpuWrite: Residence;
  afterMigrateToSystem: Residence;
}

/** One hmm-helper run (`hmm-helper hmm <dev>`), as it prints it. */
export interface HelperRun {
  device: number;
  peer: number;
  npages: number;
  pageSize: number;
  migrateToDev: { ret: number; errno: number; cpages: number; faults: number };
  migrateToDevAgain: { ret: number; errno: number; cpages: number; faults: number };
  migrateToSys: { ret: number; errno: number; cpages: number; faults: number };
  beforeMigrate: number[];
  afterMigrate: number[];
  peerAfterMigrate?: number[];
  afterCpuRead: number[];
  beforeCpuWrite: number[];
  afterCpuWrite: number[];
  afterMigrateToSys: number[];
  deviceCopyMismatches: number;
  cpuReadMismatches: number;
  finalMismatches: number;
}

export function traceOf(run: HelperRun): ResidenceTrace {
  return {
    afterMigrate: residence(uniformState(run.afterMigrate)),
    afterCpuRead: residence(uniformState(run.afterCpuRead)),
    afterCpuWrite: residence(uniformState(run.afterCpuWrite)),
    afterMigrateToSystem: residence(uniformState(run.afterMigrateToSys)),
  };
}
