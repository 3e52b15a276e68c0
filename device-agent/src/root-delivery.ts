/**
 * Root rotation on the device: which root the agent trusts, and taking the
 * newer roots an offer carries (packages/image root-chain.ts decides what a
 * valid chain is). The accepted root lives in the journal record, so it is
 * written by the same two-copy, sequence + CRC write as every state change: a
 * power cut leaves either the old record (old root) or the new one.
 */
import { advanceTrustedRoot, parseRootChain, type RootDocument, type RootSigned } from '@uniota/image';
import type { JournalState } from './agent-state.ts';

/** The root trusted now: the journal's rotated root, or the provisioned one when that is newer or none was rotated in. */
export function trustedRootOf(state: JournalState, provisioned: RootSigned): RootDocument {
  const stored = state.root;
  // A reflashed agent may carry a newer baked-in root than the journal holds.
  if (stored !== undefined && stored.signed.version >= provisioned.version) return stored;
  // The provisioned root was verified when the device was built; its
  // signatures are not needed to check the next rotation (only its keys).
  return { signed: provisioned, signatures: [] };
}

/**
 * Walks the offered root.json texts from the trusted root. Returns the journal
 * state to save BEFORE the new root is used, or null when nothing changed;
 * throws ImageError (ROOT_INVALID, ROOT_ROLLBACK, ROOT_CONFLICT,
 * ROOT_ROTATION_INVALID, ROOT_EXPIRED) and then the device keeps its root.
 */
export function adoptOfferedRoots(state: JournalState, provisioned: RootSigned, offered: readonly string[] | undefined, now: Date): JournalState | null {
  if (offered === undefined || offered.length === 0) return null;
  const { root, changed } = advanceTrustedRoot(trustedRootOf(state, provisioned), parseRootChain(offered), now);
  return changed ? { ...state, root } : null;
}
