/**
 * Which root the simulated bootloader verifies slots with. A secure-boot stage
 * that checks image signatures must follow root rotations too, or an image
 * signed by a rotated-in images key would never boot; the simulated bootloader
 * takes the root the agent journaled (root-delivery.ts), else its baked-in one.
 */
import type { RootSigned } from '@uniota/image';
import { AgentError } from '../errors.ts';
import type { Journal } from '../journal.ts';
import { trustedRootOf } from '../root-delivery.ts';

/** The root the agent journaled if any, else `baked` (also when the journal is unreadable). */
export async function bootRootOf(journal: Journal, baked: RootSigned): Promise<RootSigned> {
  try {
    const state = await journal.load();
    return state === null ? baked : trustedRootOf(state, baked).signed;
  } catch (err) {
    if (err instanceof AgentError) return baked;
    throw err;
  }
}
