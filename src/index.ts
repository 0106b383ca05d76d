/**
 * kfd-svm: AMD GPU shared virtual memory (SVM) from Node.js through the Linux amdgpu/KFD driver, with a
 * faithful simulator for machines without a GPU.
 *
 * Start with {@link open}; everything else hangs off the {@link Device} it returns.
 *
 * @packageDocumentation
 */
export { open, type BackendChoice, type OpenOptions } from './open.js';
export { Device, type DeviceAllocOptions } from './device.js';
export { SvmBuffer, SvmRange, type CpuAccessMode, type PrefetchTarget } from './svm-buffer.js';
export type { Span } from './span.js';
export type { Gpu, Cpu, SpmRange, GpuRef } from './gpu.js';
export {
  FLAG_NAMES,
  type AccessInput,
  type AccessMode,
  type FlagName,
  type FlagState,
  type Location,
  type SvmAttributeState,
  type SvmAttributes,
} from './attributes.js';
export { EVENT_KINDS, SvmEventStream, type EventKind, type EventOptions, type SvmEvent } from './events.js';
export {
  SVM_ERROR_CODES,
  SvmError,
  isSvmError,
  type ApiErrorCode,
  type SvmErrorCode,
  type SvmErrorDetails,
} from './errors.js';
export type { SimIntrospection } from './sim-introspection.js';
export type { BackendKind, KfdVersion } from './backend/contract.js';
export type { MachineProfile } from './platform/profile-types.js';
