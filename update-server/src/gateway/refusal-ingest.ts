/**
 * A device's refusal reports (commands it dropped without answering) as
 * server state: always a `device.refused` event, and for a refusal that
 * proves our own offer can never be acted on, the open action it names is
 * failed at once instead of waiting for the timeout.
 *
 * Which refusals may close an action is a table, because the action id in a
 * refused command is only what that command claimed: before the device's
 * signature check it proves nothing, and trusting it would let anyone who can
 * publish on a device's command topic fail that device's real updates.
 */
import type { RefusalCode, RefusalReport } from '@uniota/protocol';
import type { CampaignEngine } from '../campaign/engine.ts';
import type { FailureKind } from '../campaign/states.ts';
import { parseWireActionId } from './report-map.ts';

/** `record`: event only. `{ fail }`: also fail the named action of this device if it is still open. */
export type RefusalEffect = 'record' | { fail: FailureKind };

/** What each refusal code does to server state. Every code has a row (see the test). */
export const REFUSAL_EFFECT: Readonly<Record<RefusalCode, RefusalEffect>> = {
  // The command named another device: its action is not this device's to close.
  'id-mismatch': 'record',
  // Refused before (or at) the signature check: the action id is the sender's claim.
  malformed: 'record',
  foreign: 'record',
  'unknown-key': 'record',
  'bad-signature': 'record',
  // Signed by our key but past its expiry (delayed on the way): the device will never act on it.
  // A fresh offer can get through, so it fails like a lost link (retried by the campaign policy).
  expired: { fail: 'disconnect' },
  // The device already accepted this exact command: its action is running or done, not refused.
  replayed: 'record',
};

/** Shortest time between two recorded refusals of one code from one device (a bound on what a rogue device can write). */
export const REFUSAL_RECORD_INTERVAL_MS = 1000;

/** Result of one report, for the gateway's counters. */
export type RefusalOutcome = 'recorded' | 'recorded-and-failed' | 'throttled' | 'refused-device';

/** Records refusal reports into the engine's tables. */
export class RefusalIngest {
  readonly #lastAt = new Map<string, number>();

  /**
   * `unanswered(deviceId, wireActionId)`: the offer is one the device has not
   * answered yet. Only such an action may be failed: once the device reported
   * on it, a late (expired) copy of its offer says nothing about the update
   * the device is running, and failing it would hand an attacker who delays a
   * captured offer a way to kill it.
   */
  constructor(
    private readonly engine: CampaignEngine,
    private readonly now: () => number,
    private readonly unanswered: (deviceId: string, wireActionId: string) => boolean,
  ) {}

  /** Applies one validated report (its deviceId is the topic's, so the sender's own). */
  ingest(r: RefusalReport): RefusalOutcome {
    const { engine } = this;
    if (engine.admission.state(r.deviceId) !== 'accepted') {
      if (engine.admission.state(r.deviceId) !== undefined) engine.admission.countRefused(r.deviceId);
      return 'refused-device';
    }
    const now = this.now();
    const key = `${r.deviceId}\u0000${r.refused.code}`;
    if (now - (this.#lastAt.get(key) ?? -Infinity) < REFUSAL_RECORD_INTERVAL_MS) return 'throttled';
    this.#lastAt.set(key, now);
    if (this.#lastAt.size > 10_000) this.#lastAt.delete(this.#lastAt.keys().next().value as string);

    const { code, count, since, actionId } = r.refused;
    const ids = actionId === undefined ? null : parseWireActionId(actionId);
    const action = ids === null ? undefined : engine.actions.getCore(ids.actionId);
    const own = action !== undefined && action.deviceId === r.deviceId;
    engine.events.append(own ? action.campaignId : null, r.deviceId, 'device.refused', { code, count, since, ...(actionId === undefined ? {} : { actionId }) }, now);

    const effect = REFUSAL_EFFECT[code];
    if (effect === 'record' || !own || actionId === undefined || ids === null || !this.unanswered(r.deviceId, actionId)) return 'recorded';
    const [outcome] = engine.ingestReports([
      {
        deviceId: r.deviceId,
        actionId: ids.actionId,
        attempt: ids.attempt,
        seq: r.at,
        step: 'failed',
        failureKind: effect.fail,
        detail: `${code}: the device refused the offer without answering (${count} refusal${count === 1 ? '' : 's'} since ${new Date(since).toISOString()})`,
      },
    ]);
    return outcome === 'applied' ? 'recorded-and-failed' : 'recorded';
  }
}
