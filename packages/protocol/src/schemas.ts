import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { MAX_ID_LENGTH } from './topics.ts';

/**
 * Schemas of every JSON message, shared by server and agent so both validate
 * exactly the same shapes. Objects are closed (`additionalProperties: false`)
 * and every string and array is bounded: a message that merely parses must
 * still not be able to make either side allocate without limit.
 *
 * `v` is the message format version; a receiver rejects versions it does not
 * know instead of guessing.
 */

const Id = Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: '^[^+#/\\u0000$][^+#/\\u0000]*$' });
const Text = (max: number) => Type.String({ maxLength: max });
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
/** Milliseconds since the Unix epoch. */
const EpochMs = Type.Integer({ minimum: 0, maximum: 8_640_000_000_000_000 });
const SlotName = Type.Union([Type.Literal('a'), Type.Literal('b')]);

/** A trust root version (root.json `signed.version`). */
const RootVersion = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

/**
 * Root documents an offer carries (root rotation): at most MAX_OFFER_ROOTS
 * root.json texts of at most MAX_ROOT_TEXT characters each, so a rotation adds
 * at most 32 KiB to an offer. A device further behind catches up over several
 * offers (it reports its new version after each).
 */
export const MAX_OFFER_ROOTS = 4;
export const MAX_ROOT_TEXT = 8192;

/** One slot as the device reports it. `version` is null for an empty or unknown slot. */
export const SlotInfo = Type.Object(
  { version: Type.Union([Text(64), Type.Null()]), bootable: Type.Boolean() },
  { additionalProperties: false },
);

/** Hello / inventory: sent by the device on every connect (not retained). */
export const Hello = Type.Object(
  {
    v: Type.Literal(1),
    deviceId: Id,
    hardware: Text(64),
    agentVersion: Text(64),
    runningSlot: SlotName,
    slots: Type.Object({ a: SlotInfo, b: SlotInfo }, { additionalProperties: false }),
    /** Highest command seq the device accepted, so the server can resume its counter after data loss. */
    lastCommandSeq: Count,
    /** True while the running slot is on trial (booted, not yet committed). Absent from older agents. */
    trial: Type.Optional(Type.Boolean()),
    /** Version of the trust root the device verifies with; absent from agents that cannot take root rotations. */
    rootVersion: Type.Optional(RootVersion),
  },
  { additionalProperties: false },
);
export type Hello = Static<typeof Hello>;

/**
 * Online status: retained, so the server learns the state of every device on
 * subscribe; the device registers `{online:false}` as its last will.
 */
export const OnlineStatus = Type.Object(
  { v: Type.Literal(1), online: Type.Boolean(), at: Type.Optional(EpochMs) },
  { additionalProperties: false },
);
export type OnlineStatus = Static<typeof OnlineStatus>;

/** A maintenance window in epoch ms; outside it the device may only download. */
export const MaintenanceWindow = Type.Object(
  { start: EpochMs, end: EpochMs },
  { additionalProperties: false },
);

/** How chunks reach the device: the shared per-image stream or the device's own topic. */
export const TransferMode = Type.Union([Type.Literal('fanout'), Type.Literal('unicast')]);
export type TransferMode = Static<typeof TransferMode>;

/** Largest chunk the protocol allows (frame header excluded). */
export const MAX_CHUNK_SIZE = 256 * 1024;
/**
 * Largest signed bundle header carried in an offer: base64 of 256 KiB, the
 * same bound as the slot trailer that stores it on the device. That is a
 * manifest of ~3,900 chunk hashes: a 250 MiB image at 64 KiB chunks.
 */
export const MAX_HEADER_B64 = 349_528;

/**
 * Update offer. It carries the signed bundle HEADER so the device verifies the
 * signatures itself: the server only decides who gets what (Uptane director
 * model), it cannot make a device accept an unsigned image.
 */
export const Offer = Type.Object(
  {
    type: Type.Literal('offer'),
    campaignId: Id,
    imageId: Id,
    header: Type.String({ minLength: 1, maxLength: MAX_HEADER_B64, pattern: '^[A-Za-z0-9+/]*={0,2}$' }),
    payloadSize: Count,
    chunkSize: Type.Integer({ minimum: 1, maximum: MAX_CHUNK_SIZE }),
    chunkCount: Type.Integer({ minimum: 0, maximum: 16_777_216 }),
    transfer: TransferMode,
    downloadOnly: Type.Boolean(),
    maintenanceWindow: Type.Union([MaintenanceWindow, Type.Null()]),
    /**
     * root.json texts newer than the device's reported root version, ascending.
     * Sent only to devices that report `rootVersion` (older agents refuse
     * unknown fields); the device verifies the chain before the header.
     */
    roots: Type.Optional(Type.Array(Type.String({ minLength: 2, maxLength: MAX_ROOT_TEXT }), { minItems: 1, maxItems: MAX_OFFER_ROOTS })),
  },
  { additionalProperties: false },
);
export type Offer = Static<typeof Offer>;

/** Cancels the action named in the envelope (a device mid-install may refuse; it reports why). */
export const Cancel = Type.Object(
  { type: Type.Literal('cancel'), campaignId: Id, reason: Text(256) },
  { additionalProperties: false },
);
export type Cancel = Static<typeof Cancel>;

/** Body of a command envelope. */
export const CommandBody = Type.Union([Offer, Cancel]);
export type CommandBody = Static<typeof CommandBody>;

/**
 * A command to one device. Signed over everything but `sig` (see
 * command-envelope.ts); `seq` is monotonic per device so a replay is refused.
 */
export const CommandEnvelope = Type.Object(
  {
    v: Type.Literal(1),
    deviceId: Id,
    actionId: Id,
    seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    nonce: Type.String({ minLength: 16, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
    expiresAt: EpochMs,
    body: CommandBody,
    keyId: Text(128),
    /** base64 ed25519 signature (64 bytes). */
    sig: Type.String({ minLength: 86, maxLength: 88, pattern: '^[A-Za-z0-9+/]*={0,2}$' }),
  },
  { additionalProperties: false },
);
export type CommandEnvelope = Static<typeof CommandEnvelope>;

/**
 * Step names of a status report. Stable strings, persisted by the server and
 * shown to operators: never rename or reuse one; add new ones instead.
 */
export const STEP_NAMES = [
  'offered',
  'verifying',
  'downloading',
  'downloaded',
  'installing',
  'installed',
  'rebooting',
  'trial-boot',
  'health-check',
  'committed',
  'rolled-back',
  'cancelled',
  'failed',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

const plainSteps = STEP_NAMES.filter((s) => s !== 'downloading' && s !== 'failed');

/** One step of the update lifecycle as reported by the device. */
export const Step = Type.Union([
  Type.Object(
    {
      name: Type.Union(plainSteps.map((s) => Type.Literal(s))),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      name: Type.Literal('downloading'),
      progress: Type.Object({ chunksDone: Count, chunkCount: Count }, { additionalProperties: false }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      name: Type.Literal('failed'),
      code: Text(64),
      reason: Text(512),
      transient: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
]);
export type Step = Static<typeof Step>;

/** Per-step status report from a device about one action. */
export const StatusReport = Type.Object(
  {
    v: Type.Literal(1),
    deviceId: Id,
    campaignId: Id,
    actionId: Id,
    at: EpochMs,
    step: Step,
    /** The device's trust root version after this step (it may have rotated on the offer); absent from older agents. */
    rootVersion: Type.Optional(RootVersion),
  },
  { additionalProperties: false },
);
export type StatusReport = Static<typeof StatusReport>;

/**
 * Why a device refused a command without answering it (it does not answer a
 * command it does not trust). Stable strings: the decoder's `id-mismatch`
 * plus the command guard's reasons. Never rename one; add new ones instead.
 */
export const REFUSAL_CODES = ['id-mismatch', 'malformed', 'foreign', 'unknown-key', 'bad-signature', 'expired', 'replayed'] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

/**
 * A device's summary of commands it refused, on its own status topic (the
 * ACL already lets it speak only there, so it cannot report for another
 * device). Throttled by the device: at most one per code per interval, with
 * `count` refusals since `since`, so a flood of forged commands cannot make
 * the device flood the server. `actionId` is the last refused command's
 * action id as that command claimed it: the server trusts it only for codes
 * the guard checks after the signature (see the gateway's refusal table).
 */
export const RefusalReport = Type.Object(
  {
    v: Type.Literal(1),
    deviceId: Id,
    at: EpochMs,
    refused: Type.Object(
      {
        code: Type.Union(REFUSAL_CODES.map((c) => Type.Literal(c))),
        count: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
        since: EpochMs,
        actionId: Type.Optional(Id),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type RefusalReport = Static<typeof RefusalReport>;

/** Most chunk indices a receiver may ask for in one request (its window bound). */
export const MAX_WINDOW = 256;

/**
 * Chunk request, which is also the end-to-end acknowledgement: `next` is the
 * first chunk the device has NOT yet verified and stored (everything below it
 * is acknowledged), `want` lists the chunks it asks for now (its window). A
 * broker PUBACK proves nothing about delivery, so only this message moves the
 * transfer forward.
 */
export const ChunkRequest = Type.Object(
  {
    v: Type.Literal(1),
    imageId: Id,
    mode: TransferMode,
    next: Type.Integer({ minimum: 0, maximum: 16_777_216 }),
    want: Type.Array(Type.Integer({ minimum: 0, maximum: 16_777_216 }), { maxItems: MAX_WINDOW }),
  },
  { additionalProperties: false },
);
export type ChunkRequest = Static<typeof ChunkRequest>;

function compile<T extends TSchema>(schema: T): TypeCheck<T> {
  return TypeCompiler.Compile(schema);
}

/** Validators compiled once at module load (not per message). */
export const validators = {
  hello: compile(Hello),
  online: compile(OnlineStatus),
  command: compile(CommandEnvelope),
  status: compile(StatusReport),
  'chunk-request': compile(ChunkRequest),
  /** Not a topic kind of its own: the second message of the status topic. */
  refusal: compile(RefusalReport),
} as const;
