/**
 * The answers the real kernel gave in the QEMU guest, as scripts/kernel-vm/ci.sh recorded them
 * (copy them from $KFD_SVM_VM_OUTDIR/<run>/ with scripts/kernel-vm/update-fixtures.sh).
 */
import { readFileSync } from 'node:fs';
import type { Answer } from './cases.js';
import type { HelperRun, ResidenceTrace } from './hmm-states.js';

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

export interface RecordedAnswers {
  kernel: string;
  procVersion: string;
  answers: Record<string, Answer>;
}
export interface RecordedRaw {
  unknownIoctl: { nr: number; ret: number; errno: number };
  svmPlainSize: { nattr: number; ret: number; errno: number };
}
export interface RecordedHmm {
  kernel: string;
  runs: Record<string, HelperRun>;
  traces: Record<string, ResidenceTrace>;
}
export interface RecordedIomem {
  kernel: string;
  cmdline: string;
  root: string;
  user: string;
  daxTargetNodes: Record<string, number>;
}

export const kfdAnswers = (kernel: 'svm' | 'nosvm'): RecordedAnswers => load(`kfd-answers-${kernel}.json`);
export const kfdRaw = (kernel: 'svm' | 'nosvm'): RecordedRaw => load(`kfd-raw-${kernel}.json`);
export const hmmAnswers = (): RecordedHmm => load('hmm-answers.json');
export const iomemRecording = (mode: 'hmm' | 'dax'): RecordedIomem => load(`iomem-${mode}.json`);
export interface RecordedTopology {
  nodes: { kind: string; gpuId: number; cpuCoresCount: number }[];
  gpus: unknown[];
}
export const topologyRecording = (): RecordedTopology => load('topology-svm.json');
