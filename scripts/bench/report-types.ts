import type { Summary } from './stats.js';

/** One measured figure: a median with min and max over the samples. */
export interface Figure {
  label: string;
  unit: string;
  value: Summary;
}

/** A goal from issue 9; reported, never asserted. `met` is null when the figure could not be measured. */
export interface Target {
  label: string;
  goal: string;
  measured: string;
  met: boolean | null;
}

export interface SectionResult {
  id: string;
  title: string;
  /** Absolute figures (time per call, operations per second, bytes). */
  figures: Figure[];
  /** Ratios between cases measured in the same rounds. */
  ratios: Figure[];
  targets: Target[];
  /** What was measured and how (the ioctl used, sizes, why a case was skipped). */
  notes: string[];
}

export interface BenchResults {
  schema: 1;
  generatedAt: string;
  quick: boolean;
  machine: {
    node: string;
    v8: string;
    platform: string;
    arch: string;
    kernel: string;
    cpu: string;
    cpus: number;
    exposeGc: boolean;
    /** 1-minute load average at the start and at the end of the run: above the CPU count, figures are noisy. */
    loadAverage: { start: number; end: number };
  };
  sections: SectionResult[];
}
