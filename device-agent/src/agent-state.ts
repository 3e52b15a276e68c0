/**
 * What the agent persists in its journal.
 *
 * State names are stable strings (never renumbered, never reused): a device
 * that loses power during an agent upgrade must be able to read the state its
 * previous agent wrote. JOURNAL_FORMAT_VERSION rises when a field changes
 * meaning; a retired state name stays in RETIRED_STATES so it stays readable.
 */
import type { SlotName } from '@uniota/boot-control';
import type { RootDocument } from '@uniota/image';

export const JOURNAL_FORMAT_VERSION = 1;

/** The lifecycle states, in the order an update passes through them. */
export const AGENT_STATES = [
  'idle',
  'downloading',
  'verifying-slot',
  'installed',
  'arming',
  'rebooting',
  'health-check',
  'committing',
  'rolling-back',
] as const;
export type AgentStateName = (typeof AGENT_STATES)[number];

/** Names older agents wrote, mapped to today's meaning. Empty so far; keep entries forever. */
export const RETIRED_STATES: Readonly<Record<string, AgentStateName>> = {};

/** Outcome of one update, as the server counts it. */
export type UpdateOutcome = 'committed' | 'rolled-back' | 'failed';

/** The image the device runs and trusts as good. */
export interface CommittedImage {
  slot: SlotName;
  version: string;
  securityCounter: number;
}

/** One update in progress. Everything needed to resume after a power cut. */
export interface UpdateJob {
  actionId: string;
  campaignId: string | null;
  /** The signed bundle header (base64): re-verified on every resume, never trusted from memory. */
  headerB64: string;
  version: string;
  securityCounter: number;
  payloadSize: number;
  chunkSize: number;
  chunkCount: number;
  fromSlot: SlotName;
  targetSlot: SlotName;
  /** First chunk not yet durably written; chunks below it are on disk and were verified. */
  nextChunk: number;
  /** Stop after `installed` until an install command arrives. */
  downloadOnly: boolean;
  /** How often the arm step re-ran because its env write had not landed. */
  armAttempts: number;
  /** How often a rollback was re-issued; bounds the loop when the old slot cannot boot. */
  rollbackAttempts: number;
}

export interface HistoryEntry {
  actionId: string;
  campaignId: string | null;
  version: string;
  outcome: UpdateOutcome;
  code: string | null;
  /** Whether the outcome report reached the transport (re-sent on start until it did). */
  reported: boolean;
}

export interface JournalState {
  formatVersion: number;
  state: AgentStateName;
  /** Anti-rollback floor: raised only when an update commits, never before. */
  minSecurityCounter: number;
  /** Highest command sequence number accepted from the server (replay guard). */
  lastCommandSeq: number;
  committed: CommittedImage | null;
  update: UpdateJob | null;
  /** Most recent outcomes, newest last, bounded. */
  history: HistoryEntry[];
  /**
   * The newest trust root accepted from a rotation (root-delivery.ts). Absent
   * until the first rotation (and in journals of older agents): the root
   * provisioned with the agent is trusted then. Kept in the journal record so
   * the two-copy write makes it crash-safe: a cut leaves the old or the new.
   */
  root?: RootDocument;
}

/** How many outcomes the journal keeps. */
export const HISTORY_LIMIT = 16;

/** A fresh state for a device whose running image is `committed`. */
export function initialState(committed: CommittedImage): JournalState {
  return {
    formatVersion: JOURNAL_FORMAT_VERSION,
    state: 'idle',
    minSecurityCounter: committed.securityCounter,
    lastCommandSeq: 0,
    committed,
    update: null,
    history: [],
  };
}
