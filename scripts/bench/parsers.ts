import type { SectionResult } from './report-types.js';

export async function benchParsers(opts: { quick: boolean }): Promise<SectionResult> {
  void opts;
  throw new Error('not written yet');
}
