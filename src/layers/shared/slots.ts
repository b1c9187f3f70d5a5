/**
 * The errors of a bus's lifetime limits: its instance slots, and its shutdown.
 *
 * @module
 */

import { OutOfSharedMemory } from '../../errors.js';

/** Why an instance of a bus that its creating layer closed is closed. */
export const SHUT_DOWN = 'the bus was shut down: the layer that created it was closed';

/** The error when all `slots` instance slots of a bus are taken. */
export function instancesExhausted(slots: number): OutOfSharedMemory {
  return new OutOfSharedMemory(
    'instances',
    `all ${slots} instance slots of this bus are taken (one per layer instance that is attached and not ` +
      `closed, over all threads); close() the layers you no longer use, and let the thread that created a ` +
      `Worker call layer.watch(worker) (createPool does it): a slot comes back when its layer is closed, ` +
      `collected, or its thread exits by itself or is watched`,
  );
}
