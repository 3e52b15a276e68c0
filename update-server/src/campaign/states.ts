/**
 * Persisted state names. These strings are written to SQLite and shown to
 * operators, so they are never renamed or reused with another meaning; a
 * retired name must stay readable.
 */
export const ActionState = {
  Queued: 'queued',
  Offered: 'offered',
  Downloading: 'downloading',
  Downloaded: 'downloaded',
  Installing: 'installing',
  Rebooting: 'rebooting',
  RetryWait: 'retry_wait',
  Canceling: 'canceling',
  Succeeded: 'succeeded',
  Failed: 'failed',
  RolledBack: 'rolled_back',
  TimedOut: 'timed_out',
  Rejected: 'rejected',
  Canceled: 'canceled',
} as const;
export type ActionState = (typeof ActionState)[keyof typeof ActionState];
export const allActionStates: readonly ActionState[] = Object.values(ActionState);

/** States where the device holds the offer and is expected to report (counted against the concurrency cap). */
export const inFlightStates: ReadonlySet<ActionState> = new Set<ActionState>([
  'offered', 'downloading', 'downloaded', 'installing', 'rebooting', 'canceling',
]);

/** States that never change again. */
export const terminalStates: ReadonlySet<ActionState> = new Set<ActionState>([
  'succeeded', 'failed', 'rolled_back', 'timed_out', 'rejected', 'canceled',
]);

/** Terminal states that are failures (what abort criteria and wave success count). */
export const failureStates: ReadonlySet<ActionState> = new Set<ActionState>([
  'failed', 'rolled_back', 'timed_out', 'rejected',
]);

export const CampaignState = {
  Running: 'running',
  Paused: 'paused',
  Completed: 'completed',
  Canceled: 'canceled',
  Aborted: 'aborted',
} as const;
export type CampaignState = (typeof CampaignState)[keyof typeof CampaignState];
export const allCampaignStates: readonly CampaignState[] = Object.values(CampaignState);

/** Steps a device agent reports for an offer. `committed` is the ONLY step that means success. */
export const ReportStep = {
  Accepted: 'accepted',
  Downloading: 'downloading',
  Downloaded: 'downloaded',
  Installing: 'installing',
  Rebooting: 'rebooting',
  Committed: 'committed',
  RolledBack: 'rolled_back',
  Failed: 'failed',
  Rejected: 'rejected',
  Canceled: 'canceled',
} as const;
export type ReportStep = (typeof ReportStep)[keyof typeof ReportStep];
export const allReportSteps: readonly ReportStep[] = Object.values(ReportStep);

/** Why an attempt failed, as the agent (or the server, for disconnects) classifies it. */
export const FailureKind = {
  DownloadError: 'download_error',
  Disconnect: 'disconnect',
  VerifyFailed: 'verify_failed',
  InstallError: 'install_error',
  Incompatible: 'incompatible',
  Other: 'other',
} as const;
export type FailureKind = (typeof FailureKind)[keyof typeof FailureKind];
export const allFailureKinds: readonly FailureKind[] = Object.values(FailureKind);
