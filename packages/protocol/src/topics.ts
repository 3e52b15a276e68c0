import { ProtocolError, ProtocolErrorCode } from './errors.ts';

/**
 * The MQTT topic tree. Everything lives under one versioned root so a future
 * incompatible protocol can run beside this one on the same broker.
 *
 * Device ids are embedded in topics, so they must never contain MQTT
 * wildcards or level separators: a client id like `a/#` once bypassed
 * mosquitto's pattern ACLs (CVE-2017-7650). Both builders and the parser
 * enforce the same rule.
 */
export const TOPIC_ROOT = 'uniota/v1';

/** Longest device or image id accepted in a topic (keeps topics and ACL patterns small). */
export const MAX_ID_LENGTH = 128;

/** Every kind of message on the tree; the string is also the counter label. */
export type TopicKind =
  | 'hello'
  | 'online'
  | 'command'
  | 'status'
  | 'chunk-request'
  | 'chunk-data'
  | 'chunk-fanout';

/** A parsed topic: its kind and the id it is about. */
export type ParsedTopic =
  | { kind: Exclude<TopicKind, 'chunk-fanout'>; deviceId: string }
  | { kind: 'chunk-fanout'; imageId: string };

// Device-scoped leaf paths; one table so builder, parser and README agree.
const deviceLeaves: Record<Exclude<TopicKind, 'chunk-fanout'>, string> = {
  hello: 'hello',
  online: 'online',
  command: 'cmd',
  status: 'status',
  'chunk-request': 'chunks/req',
  'chunk-data': 'chunks/data',
};
const leafToKind = new Map(
  Object.entries(deviceLeaves).map(([kind, leaf]) => [leaf, kind as Exclude<TopicKind, 'chunk-fanout'>]),
);

/** True when `id` may appear as one topic level (non-empty, bounded, no `+ # /`, no NUL). */
export function isValidId(id: string): boolean {
  return (
    id.length > 0 &&
    id.length <= MAX_ID_LENGTH &&
    !/[+#/\u0000]/.test(id) &&
    // `$` prefixes are reserved for broker topics ($SYS, $share).
    !id.startsWith('$')
  );
}

function requireId(id: string, what: string): string {
  if (!isValidId(id)) {
    throw new ProtocolError(ProtocolErrorCode.BAD_TOPIC_ID, `invalid ${what} for a topic: ${JSON.stringify(id.slice(0, 40))}`);
  }
  return id;
}

/** Topic for a device-scoped message kind; throws PROTOCOL_BAD_TOPIC_ID on a bad id. */
export function deviceTopic(kind: Exclude<TopicKind, 'chunk-fanout'>, deviceId: string): string {
  return `${TOPIC_ROOT}/devices/${requireId(deviceId, 'device id')}/${deviceLeaves[kind]}`;
}

/** Fan-out chunk stream shared by every device downloading `imageId`. */
export function imageChunksTopic(imageId: string): string {
  return `${TOPIC_ROOT}/images/${requireId(imageId, 'image id')}/chunks`;
}

/** Subscription filter for one message kind from every device (server side). */
export function allDevicesFilter(kind: Exclude<TopicKind, 'chunk-fanout'>): string {
  return `${TOPIC_ROOT}/devices/+/${deviceLeaves[kind]}`;
}

/** Parses a topic of the tree; null for anything else (wrong root, bad id, unknown leaf). */
export function parseTopic(topic: string): ParsedTopic | null {
  if (!topic.startsWith(`${TOPIC_ROOT}/`)) return null;
  const rest = topic.slice(TOPIC_ROOT.length + 1).split('/');
  if (rest[0] === 'images' && rest.length === 3 && rest[2] === 'chunks') {
    const imageId = rest[1] ?? '';
    return isValidId(imageId) ? { kind: 'chunk-fanout', imageId } : null;
  }
  if (rest[0] !== 'devices' || rest.length < 3) return null;
  const deviceId = rest[1] ?? '';
  if (!isValidId(deviceId)) return null;
  const kind = leafToKind.get(rest.slice(2).join('/'));
  return kind === undefined ? null : { kind, deviceId };
}
