/**
 * How the agent talks to the outside world: offers in, status reports out.
 *
 * The lifecycle never knows whether it runs over MQTT, a local demo or a
 * test recorder. Reports are at-least-once: after a power cut the agent may
 * send the same step again, and the server deduplicates by action and step.
 */
import type { AgentStateName, UpdateOutcome } from './agent-state.ts';

/** Steps reported to the server; stable strings, shared with the protocol package. */
export type ReportStep = AgentStateName | UpdateOutcome | 'rejected';

export interface StatusReport {
  actionId: string;
  /** The campaign the action belongs to, when the server named one. */
  campaignId: string | null;
  step: ReportStep;
  version: string | null;
  /** Download progress on 'downloading' reports: chunks durably stored of the total. */
  progress?: { chunksDone: number; chunkCount: number };
  /** Error code on 'failed' / 'rolled-back' / 'rejected'. */
  code?: string;
  reason?: string;
  /** Whether retrying the same action later may succeed. */
  transient?: boolean;
}

/** An update offer, as the agent sees it after transport decoding. */
export interface UpdateOffer {
  actionId: string;
  campaignId: string | null;
  /** The signed bundle header: the agent verifies it before anything else. */
  header: Uint8Array;
  downloadOnly: boolean;
  /** root.json texts newer than the device's reported root version (root rotation); absent when none. */
  roots?: readonly string[];
}

export interface AgentTransport {
  report(report: StatusReport): Promise<void>;
}

/** A transport that keeps every report in memory: the demo and tests read it. */
export class RecordingTransport implements AgentTransport {
  readonly reports: StatusReport[] = [];
  constructor(private readonly onReport?: (r: StatusReport) => void) {}
  async report(report: StatusReport): Promise<void> {
    this.reports.push(report);
    this.onReport?.(report);
  }
}
