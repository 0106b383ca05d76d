import type { SmokeCheck } from '../types.js';
import { allocCheck } from './alloc.js';
import { attributesCheck } from './attributes.js';
import { badInputsCheck } from './bad-inputs.js';
import { copyIoCheck } from './copy-io.js';
import { cpuAccessCheck } from './cpu-access.js';
import { eventsCheck } from './events.js';
import { prefetchCheck } from './prefetch.js';
import { topologyCheck } from './topology.js';
import { versionsCheck } from './versions.js';

/** The suite, in order (after 'device-open', which the runner does itself). */
export const SMOKE_CHECKS: readonly SmokeCheck[] = [
  versionsCheck,
  topologyCheck,
  allocCheck,
  attributesCheck,
  prefetchCheck,
  cpuAccessCheck,
  copyIoCheck,
  eventsCheck,
  badInputsCheck,
];
