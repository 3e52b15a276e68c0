import type { BrokerDenial } from './secure-broker.ts';

/** A line of the uniota mosquitto plugin's log, as the update server reads it. */
export type BrokerLogEntry =
  | { kind: 'denied'; denial: Extract<BrokerDenial, { kind: 'publish' | 'subscribe' }>; clientId: string }
  /** The plugin's flood bound dropped this many denial lines in the last second. */
  | { kind: 'suppressed'; count: number };

// Optional `<unix seconds>: ` prefix (mosquitto's default log_timestamp), then the plugin's fixed format.
const DENIED = /^(?:\d+: )?uniota-acl denied (publish|subscribe) user=(\S*) client=(\S*) topic=(\S*)$/;
const SUPPRESSED = /^(?:\d+: )?uniota-acl suppressed (\d{1,15}) denials$/;

// The plugin percent-encodes space, control bytes, `%` and DEL (so fields
// cannot be forged by a topic); bytes, then UTF-8 (a topic cut mid-character
// at the plugin's 256-byte bound decodes with a replacement character).
function decode(field: string): string | null {
  const parts: Buffer[] = [];
  const token = /%([0-9A-F]{2})|[^%]+/y;
  let at = 0;
  for (let m = token.exec(field); m !== null; m = token.exec(field)) {
    parts.push(m[1] !== undefined ? Buffer.from([parseInt(m[1], 16)]) : Buffer.from(m[0], 'utf8'));
    at = token.lastIndex;
  }
  // A `%` not followed by two hex digits: not a line the plugin wrote.
  if (at !== field.length) return null;
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Parses one log line of the uniota ACL plugin (mosquitto-plugin/uniota_acl.c),
 * e.g. `uniota-acl denied subscribe user=dev-a client=dev-a topic=#`, into
 * the same denial the embedded broker reports; null for any other line
 * (mosquitto logs other warnings on the same topic).
 */
export function parseBrokerLogLine(line: string): BrokerLogEntry | null {
  const text = line.endsWith('\n') ? line.slice(0, -1) : line;
  const s = SUPPRESSED.exec(text);
  if (s !== null) return { kind: 'suppressed', count: Number(s[1]) };
  const m = DENIED.exec(text);
  if (m === null) return null;
  const [username, clientId, topic] = [decode(m[2]!), decode(m[3]!), decode(m[4]!)];
  if (username === null || clientId === null || topic === null) return null;
  const denial = m[1] === 'publish' ? { kind: 'publish' as const, username, topic } : { kind: 'subscribe' as const, username, filter: topic };
  return { kind: 'denied', denial, clientId };
}
