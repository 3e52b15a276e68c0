/**
 * Device admission in the style of Mender. Stored as these strings (never
 * ordinals); a new state is appended, an old one never renamed.
 */
export type AdmissionState = 'pending' | 'accepted' | 'rejected' | 'decommissioned';

/** What an operator can do to a known device. */
export type AdmissionCommand = 'accept' | 'reject' | 'decommission';

/** Every admission state, for schemas. */
export const ADMISSION_STATES: readonly AdmissionState[] = ['pending', 'accepted', 'rejected', 'decommissioned'];

// The transition table: a missing row is an illegal command. A rejected
// device may still be accepted (an operator's mistake is fixable);
// decommissioned is final for that id, because its certificate is meant to
// be revoked and the hardware may have left our hands.
const table: Record<AdmissionState, Partial<Record<AdmissionCommand, AdmissionState>>> = {
  pending: { accept: 'accepted', reject: 'rejected', decommission: 'decommissioned' },
  accepted: { reject: 'rejected', decommission: 'decommissioned' },
  rejected: { accept: 'accepted', decommission: 'decommissioned' },
  decommissioned: {},
};

/** The state after `cmd`, or null when the command is not allowed from `from`. */
export function nextAdmission(from: AdmissionState, cmd: AdmissionCommand): AdmissionState | null {
  return table[from][cmd] ?? null;
}

/** Whether the server talks to a device in this state at all (hello, reports). */
export function isRefused(state: AdmissionState): boolean {
  return state === 'rejected' || state === 'decommissioned';
}

/**
 * How a device first seen is admitted: `required` (production; pending until
 * an operator accepts, unless pre-authorized) or `open` (every new device is
 * accepted: the behaviour before admission existed, kept for development
 * setups and existing test harnesses).
 */
export type AdmissionPolicy = 'required' | 'open';

/** The state a device gets at its first hello. */
export function initialAdmission(policy: AdmissionPolicy, preauthorized: boolean): AdmissionState {
  return preauthorized || policy === 'open' ? 'accepted' : 'pending';
}
