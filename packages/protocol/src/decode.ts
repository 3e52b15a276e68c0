import { decodeChunkFrame, CHUNK_HEADER_SIZE, type ChunkFrame } from './chunk-frame.ts';
import {
  MAX_CHUNK_SIZE,
  validators,
  type ChunkRequest,
  type CommandEnvelope,
  type Hello,
  type OnlineStatus,
  type RefusalReport,
  type StatusReport,
} from './schemas.ts';
import { parseTopic, type TopicKind } from './topics.ts';

/** Why a received message was dropped. Stable strings (metric labels, logs). */
export const RejectCode = {
  UNKNOWN_TOPIC: 'unknown-topic',
  OVERSIZED: 'oversized',
  MALFORMED: 'malformed',
  SCHEMA: 'schema',
  ID_MISMATCH: 'id-mismatch',
  BAD_FRAME: 'bad-frame',
  UNEXPECTED: 'unexpected',
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

/**
 * Largest payload accepted per kind, checked BEFORE parsing so a huge message
 * costs nothing but the bytes the broker already delivered. Chunk frames may
 * be as large as the largest chunk; JSON messages are small.
 */
export const MAX_PAYLOAD: Record<TopicKind, number> = {
  hello: 4096,
  online: 256,
  command: 400 * 1024, // an offer carries the signed bundle header (up to 256 KiB, base64) and up to 32 KiB of root documents
  status: 2048,
  'chunk-request': 4096,
  'chunk-data': CHUNK_HEADER_SIZE + MAX_CHUNK_SIZE,
  'chunk-fanout': CHUNK_HEADER_SIZE + MAX_CHUNK_SIZE,
};

/** A message that passed topic, size and schema checks. */
export type DecodedMessage =
  | { ok: true; kind: 'hello'; deviceId: string; message: Hello }
  | { ok: true; kind: 'online'; deviceId: string; message: OnlineStatus }
  | { ok: true; kind: 'command'; deviceId: string; message: CommandEnvelope }
  | { ok: true; kind: 'status'; deviceId: string; message: StatusReport }
  // The status topic's second message (told apart by `refused`): its own kind, so status handlers keep their type.
  | { ok: true; kind: 'refusal'; deviceId: string; message: RefusalReport }
  | { ok: true; kind: 'chunk-request'; deviceId: string; message: ChunkRequest }
  | { ok: true; kind: 'chunk-data'; deviceId: string; message: ChunkFrame }
  | { ok: true; kind: 'chunk-fanout'; deviceId: undefined; imageId: string; message: ChunkFrame };

/** Kind of a decoded message: its topic's kind, or `refusal` (a refusal report on the status topic). */
export type MessageKind = DecodedMessage['kind'];

/** The topic kind a decoded message arrived on (counter labels stay per topic). */
export function topicKindOf(kind: MessageKind): TopicKind {
  return kind === 'refusal' ? 'status' : kind;
}

/** A dropped message. */
export interface Rejection {
  ok: false;
  reason: RejectCode;
  detail: string;
  /** Kind of the topic, when the topic itself was valid. */
  kind?: TopicKind;
  /** For `id-mismatch` on a command: the action id the foreign command names (so the device can report it). */
  actionId?: string;
}

/** Result of decodeMessage. */
export type DecodeResult = DecodedMessage | Rejection;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function reject(reason: RejectCode, detail: string, kind?: TopicKind): Rejection {
  return kind === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, kind };
}

/**
 * Turns a received (topic, payload) into a typed message or a rejection.
 * Never throws: every input, however hostile, yields a result.
 */
export function decodeMessage(topic: string, payload: Buffer): DecodeResult {
  try {
    return decodeUnsafe(topic, payload);
  } catch (err) {
    // Defensive: validators and parsers should not throw, but a crash here
    // would take down the agent or the server, so any surprise is a rejection.
    return reject(RejectCode.MALFORMED, `decoder error: ${String(err).slice(0, 200)}`);
  }
}

function decodeUnsafe(topic: string, payload: Buffer): DecodeResult {
  const parsed = parseTopic(topic);
  if (parsed === null) return reject(RejectCode.UNKNOWN_TOPIC, `not a uniota topic: ${topic.slice(0, 120)}`);
  const { kind } = parsed;
  const max = MAX_PAYLOAD[kind];
  if (payload.length > max) return reject(RejectCode.OVERSIZED, `${payload.length} bytes > ${max}`, kind);

  if (parsed.kind === 'chunk-fanout' || parsed.kind === 'chunk-data') {
    const frame = decodeChunkFrame(payload);
    if ('error' in frame) return reject(RejectCode.BAD_FRAME, frame.error, kind);
    return parsed.kind === 'chunk-fanout'
      ? { ok: true, kind: 'chunk-fanout', deviceId: undefined, imageId: parsed.imageId, message: frame }
      : { ok: true, kind: 'chunk-data', deviceId: parsed.deviceId, message: frame };
  }

  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return reject(RejectCode.MALFORMED, 'payload is not JSON', kind);
  }
  const { deviceId } = parsed;
  const check = parsed.kind === 'status' && isObject(json) && 'refused' in json ? validators.refusal : validators[parsed.kind];
  if (!check.Check(json)) {
    const first = check.Errors(json).First();
    return reject(RejectCode.SCHEMA, first ? `${first.path || '/'}: ${first.message}` : 'schema mismatch', kind);
  }
  // A message naming another device than its topic is foreign or forged.
  if ('deviceId' in json && json.deviceId !== deviceId) {
    const r = reject(RejectCode.ID_MISMATCH, `payload names ${String(json.deviceId).slice(0, 64)}, topic ${deviceId}`, kind);
    return 'actionId' in json && typeof json.actionId === 'string' ? { ...r, actionId: json.actionId } : r;
  }
  switch (parsed.kind) {
    case 'hello':
      return { ok: true, kind: parsed.kind, deviceId, message: json as Hello };
    case 'online':
      return { ok: true, kind: parsed.kind, deviceId, message: json as OnlineStatus };
    case 'command':
      return { ok: true, kind: parsed.kind, deviceId, message: json as CommandEnvelope };
    case 'status':
      return check === validators.refusal
        ? { ok: true, kind: 'refusal', deviceId, message: json as RefusalReport }
        : { ok: true, kind: parsed.kind, deviceId, message: json as StatusReport };
    case 'chunk-request':
      return { ok: true, kind: parsed.kind, deviceId, message: json as ChunkRequest };
  }
}
