// Shapes of the API answers the console reads (see update-server/README.md).

export interface Device {
  id: string; hardware: string; tags: string[]; currentVersion: string | null; bootedSlot: string | null;
  online: boolean; firstSeen: number; lastSeen: number;
  slots: { a: SlotInfo; b: SlotInfo; trial: boolean } | null;
}
export interface SlotInfo { version: string | null; bootable: boolean }
export interface Image {
  id: string; version: string; compatible: string[]; size: number; devSigned: boolean; uploadedAt: number;
  manifest: { product?: string; version?: string; securityCounter?: number; compatibleHardware?: string[]; expiresAt?: string; createdAt?: string; releaseNotes?: string; payload?: { size?: number } };
}
export type Counts = Record<string, number>;
export interface CampaignStatus {
  campaign: { id: number; name: string; imageId: string; state: string; stateReason: string | null; currentWave: number; createdAt: number; updatedAt: number; spec: unknown };
  image: { id: string; version: string };
  counts: Counts;
  total: number;
  waves: { idx: number; kind: string; plannedSize: number; openedAt: number | null; counts: Counts }[];
}
export interface AuditEntry { seq: number; at: number; actor: string; action: string; subject: string; details: string; hash: string }

/** Action states that mean the device is done, and which of them are failures. */
export const finishedStates = ['succeeded', 'failed', 'rolled_back', 'timed_out', 'rejected', 'canceled'];
export const failedStates = ['failed', 'rolled_back', 'timed_out', 'rejected'];

/** Sum of counts in the given states. */
export function sum(c: Counts, states: string[]): number {
  return states.reduce((n, s) => n + (c[s] ?? 0), 0);
}
