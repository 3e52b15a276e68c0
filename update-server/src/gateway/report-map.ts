/**
 * Device reports (protocol) as the campaign engine's reports. One table:
 * which wire step becomes which engine step, and which failure codes are the
 * network's fault (retried) versus the image's or the device's (final).
 */
import type { StatusReport } from '@uniota/protocol';
import type { DeviceReport } from '../campaign/gateway.ts';
import type { FailureKind, ReportStep } from '../campaign/states.ts';

/** Wire step -> engine step (failed is decided by its code, below). */
export const STEP_TABLE: Record<Exclude<StatusReport['step']['name'], 'failed'>, ReportStep> = {
  offered: 'accepted',
  verifying: 'accepted',
  downloading: 'downloading',
  downloaded: 'downloaded',
  installing: 'installing',
  installed: 'installing',
  rebooting: 'rebooting',
  'trial-boot': 'rebooting',
  'health-check': 'rebooting',
  committed: 'committed',
  'rolled-back': 'rolled_back',
  cancelled: 'canceled',
};

/** Codes that mean "this image will never install here": a rejection, not retried. */
const REJECTION_KIND: Readonly<Record<string, FailureKind>> = {
  HARDWARE_INCOMPATIBLE: 'incompatible',
  IMAGE_TOO_LARGE: 'incompatible',
  SECURITY_COUNTER_ROLLBACK: 'verify_failed',
  SIGNATURE_MISSING: 'verify_failed',
  SIGNATURE_MALFORMED: 'verify_failed',
  SIGNATURE_INVALID: 'verify_failed',
  UNKNOWN_KEY: 'verify_failed',
  KEY_NOT_AUTHORIZED: 'verify_failed',
  DUPLICATE_KEYID: 'verify_failed',
  THRESHOLD_NOT_MET: 'verify_failed',
  MANIFEST_EXPIRED: 'verify_failed',
  MANIFEST_MALFORMED: 'verify_failed',
  MANIFEST_NOT_CANONICAL: 'verify_failed',
  FORMAT_UNSUPPORTED: 'verify_failed',
  BUNDLE_MALFORMED: 'verify_failed',
};

/** The wire action id carries the engine's action id and attempt: `<actionId>.<attempt>`. */
export function wireActionId(actionId: number, attempt: number): string {
  return `${actionId}.${attempt}`;
}

/** Parses a wire action id; null for anything the server did not issue. */
export function parseWireActionId(id: string): { actionId: number; attempt: number } | null {
  const m = /^(\d{1,15})\.(\d{1,9})$/.exec(id);
  return m ? { actionId: Number(m[1]), attempt: Number(m[2]) } : null;
}

/** Maps a validated wire report; null when it names no action of ours. */
export function toEngineReport(r: StatusReport): DeviceReport | null {
  const ids = parseWireActionId(r.actionId);
  if (ids === null) return null;
  const base = { deviceId: r.deviceId, actionId: ids.actionId, attempt: ids.attempt, seq: r.at };
  const step = r.step;
  if (step.name !== 'failed') return { ...base, step: STEP_TABLE[step.name] };
  const kind = REJECTION_KIND[step.code];
  if (kind !== undefined) return { ...base, step: 'rejected', failureKind: kind, detail: `${step.code}: ${step.reason}` };
  return { ...base, step: 'failed', failureKind: step.transient ? 'download_error' : 'install_error', detail: `${step.code}: ${step.reason}` };
}
