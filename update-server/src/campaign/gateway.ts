import type { FailureKind, ReportStep } from './states.ts';

/** What the server asks one device to do. The device echoes actionId and attempt in its reports. */
export interface UpdateOffer {
  deviceId: string;
  campaignId: number;
  actionId: number;
  attempt: number;
  imageId: string;
  version: string;
  size: number;
  downloadOnly: boolean;
}

/** Withdraws an offer the device has not finished. */
export interface CancelCommand {
  deviceId: string;
  campaignId: number;
  actionId: number;
  attempt: number;
}

/** One progress report from a device agent. */
export interface DeviceReport {
  deviceId: string;
  actionId: number;
  attempt: number;
  /** Increases with every report of one attempt; duplicates and reordered deliveries are dropped by it. */
  seq: number;
  step: ReportStep;
  failureKind?: FailureKind;
  detail?: string;
}

/**
 * How the campaign engine reaches devices. The engine never knows the
 * transport (MQTT in production, an in-memory fake in tests); a transport
 * feeds reports, hellos and disconnects back through the engine's methods.
 * A send that throws is retried on a later tick.
 */
export interface DeviceGateway {
  /** Delivers an offer (at-least-once is fine: the device deduplicates by actionId + attempt). */
  sendOffer(offer: UpdateOffer): Promise<void>;
  /** Delivers a cancel for an in-flight offer. */
  sendCancel(cancel: CancelCommand): Promise<void>;
}
