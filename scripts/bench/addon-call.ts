/**
 * The addon's side of the bridge benchmark: the addon's quick (synchronous) ioctl path on the chosen device.
 */
import type { IoctlChoice } from './bridge.js';

/** A call under test. `run(n)` issues n calls in its own loop, so each case's loop stays monomorphic. */
export interface QuickCall {
  description: string;
  run(n: number): void;
  close(): void;
}

/** Opens the addon's quick path on the device, or says why it cannot. */
export async function openAddonQuickCall(choice: IoctlChoice): Promise<QuickCall | string> {
  void choice;
  return 'the native addon has not landed yet';
}
