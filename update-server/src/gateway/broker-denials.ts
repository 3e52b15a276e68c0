/**
 * What the broker refused, as server state: one `broker.denied` event per
 * refusal, whichever broker saw it. The embedded broker reports its denials
 * through its `onDenied` hook; mosquitto's uniota ACL plugin logs them, and
 * the gateway reads that log on `$SYS/broker/log/W` (parseBrokerLogLine).
 * Both end here, in the same event shape: `device_id` is the identity that
 * asked (the certificate CN), `data` the denial itself (kind, topic or filter).
 *
 * A device that loops on a refused SUBSCRIBE must not fill the events table:
 * each identity gets at most DENIAL_BURST events per DENIAL_WINDOW_MS; past
 * that its denials are only counted, and the next event it gets carries the
 * count as `suppressed`.
 */
import type { BrokerDenial } from '@uniota/protocol';

/** Events one identity may add per window (enough for an attack's whole story, not for a flood). */
export const DENIAL_BURST = 20;
export const DENIAL_WINDOW_MS = 60_000;
/** Identities tracked at once; the oldest is forgotten first (its next denial simply opens a new window). */
const MAX_TRACKED = 10_000;

/** The one method of the events repository this needs. */
export interface DenialEventSink {
  append(campaignId: number | null, deviceId: string | null, type: string, data: Record<string, unknown>, at: number): number;
}

/** Result of one denial, for the gateway's counters. */
export type DenialOutcome = 'recorded' | 'throttled';

interface Window {
  startedAt: number;
  recorded: number;
  suppressed: number;
}

/** The identity a denial is about, when the broker knew one (no certificate, no identity). */
function identityOf(d: BrokerDenial): string | null {
  switch (d.kind) {
    case 'publish':
    case 'subscribe':
      return d.username;
    case 'oversized':
    case 'malformed':
      return d.username ?? null;
    case 'connect':
    case 'tls':
      return null;
  }
}

/** Records broker denials as `broker.denied` events, bounded per identity. */
export class BrokerDenialRecorder {
  readonly #windows = new Map<string, Window>();

  constructor(
    private readonly events: DenialEventSink,
    private readonly now: () => number,
  ) {}

  /** Records one denial, or only counts it past its identity's bound. */
  record(d: BrokerDenial): DenialOutcome {
    const who = identityOf(d);
    return this.#append(who, { ...d });
  }

  /** Records that the broker's own flood bound dropped `count` denial lines (the mosquitto plugin says so; it cannot say whose). */
  recordBrokerSuppressed(count: number): DenialOutcome {
    return this.#append(null, { kind: 'suppressed-by-broker', count });
  }

  #append(who: string | null, data: Record<string, unknown>): DenialOutcome {
    const now = this.now();
    // Unidentified denials (failed handshakes, bad client ids) share one bound: they cannot be told apart.
    const key = who ?? '';
    let w = this.#windows.get(key);
    if (w === undefined || now - w.startedAt >= DENIAL_WINDOW_MS) {
      const carried = w?.suppressed ?? 0;
      this.#windows.delete(key);
      w = { startedAt: now, recorded: 0, suppressed: carried };
      this.#windows.set(key, w);
      if (this.#windows.size > MAX_TRACKED) this.#windows.delete(this.#windows.keys().next().value as string);
    }
    if (w.recorded >= DENIAL_BURST) {
      w.suppressed += 1;
      return 'throttled';
    }
    w.recorded += 1;
    if (w.suppressed > 0) data['suppressed'] = w.suppressed;
    w.suppressed = 0;
    this.events.append(null, who, 'broker.denied', data, now);
    return 'recorded';
  }
}
