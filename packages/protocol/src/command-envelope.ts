import canonicalizeModule from 'canonicalize';
import { signCommandBytes, verifyCommandBytes, type CommandSigner } from './command-signature.ts';
import { validators, type CommandBody, type CommandEnvelope } from './schemas.ts';

/**
 * Signed command envelopes (server side) and the device-side guard.
 *
 * A command names one device, one action, a per-device monotonic `seq`, a
 * random nonce and an expiry, and is signed by a server-role key. The device
 * accepts it only if all of these hold, so a command recorded on the wire
 * and played back later, or one addressed to a neighbour, does nothing.
 */

/** Fields the server chooses for a command. */
export interface CommandFields {
  deviceId: string;
  actionId: string;
  /** Monotonic per device; the server must persist its last value. */
  seq: number;
  /** At least 16 url-safe characters of randomness (injected by the caller). */
  nonce: string;
  expiresAt: number;
  body: CommandBody;
}

// canonicalize is CommonJS (`module.exports = fn`) while its typings declare an
// ES default export; under NodeNext TypeScript sees a namespace. The cast
// states what Node actually hands us.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

function signedBytes(fields: Omit<CommandEnvelope, 'sig'>): Uint8Array {
  // Canonical JSON (RFC 8785) so signer and verifier hash identical bytes
  // whatever key order the JSON encoder produced.
  const text = canonicalize(fields);
  if (text === undefined) throw new TypeError('command is not serialisable');
  return Buffer.from(text, 'utf8');
}

/** Builds and signs a command envelope with a server-role key. */
export function signCommand(fields: CommandFields, signer: CommandSigner): CommandEnvelope {
  const unsigned = { v: 1 as const, ...fields, keyId: signer.keyid };
  const sig = Buffer.from(signCommandBytes(signer, signedBytes(unsigned))).toString('base64');
  return { ...unsigned, sig };
}

/** Why the guard refused a command. Stable strings (logged and counted by the agent). */
export type CommandRejectReason =
  | 'malformed'
  | 'foreign'
  | 'unknown-key'
  | 'bad-signature'
  | 'expired'
  | 'replayed';

/** State the agent persists in its journal so replay protection survives reboots. */
export interface CommandGuardState {
  lastSeq: number;
}

/** Options of CommandGuard. */
export interface CommandGuardOptions {
  deviceId: string;
  /**
   * Raw public key for a keyid IF that key holds the server role in the
   * device's trusted root; undefined otherwise (the agent resolves this from
   * its root metadata, so key rotation needs no change here).
   */
  serverKey(keyId: string): Uint8Array | undefined;
  now(): number;
  /** Persisted state from the journal; a fresh device starts at lastSeq 0. */
  state?: CommandGuardState;
}

/** Result of CommandGuard.check. */
export type CommandCheck =
  | { ok: true; envelope: CommandEnvelope; state: CommandGuardState }
  | { ok: false; reason: CommandRejectReason; detail: string };

/**
 * Device-side gate for commands. `check` does not mutate: the agent first
 * journals the returned `state`, then calls `accept(state)`, so a power cut
 * between the two can only make the device refuse the command again (safe),
 * never execute it twice.
 */
export class CommandGuard {
  readonly #opts: CommandGuardOptions;
  #lastSeq: number;

  constructor(options: CommandGuardOptions) {
    this.#opts = options;
    this.#lastSeq = options.state?.lastSeq ?? 0;
  }

  /** Current state, to persist. */
  state(): CommandGuardState {
    return { lastSeq: this.#lastSeq };
  }

  /** Validates a command without changing state. */
  check(envelope: unknown): CommandCheck {
    if (!validators.command.Check(envelope)) {
      return { ok: false, reason: 'malformed', detail: 'envelope does not match schema' };
    }
    if (envelope.deviceId !== this.#opts.deviceId) {
      return { ok: false, reason: 'foreign', detail: `addressed to ${envelope.deviceId}` };
    }
    const key = this.#opts.serverKey(envelope.keyId);
    if (key === undefined) {
      return { ok: false, reason: 'unknown-key', detail: `key ${envelope.keyId.slice(0, 16)} is not a server-role key` };
    }
    const { sig, ...unsigned } = envelope;
    const sigBytes = Buffer.from(sig, 'base64');
    if (!verifyCommandBytes(key, signedBytes(unsigned), sigBytes)) {
      return { ok: false, reason: 'bad-signature', detail: 'signature does not verify' };
    }
    // Only signed fields are trusted from here on.
    if (this.#opts.now() >= envelope.expiresAt) {
      return { ok: false, reason: 'expired', detail: `expired at ${envelope.expiresAt}` };
    }
    if (envelope.seq <= this.#lastSeq) {
      return { ok: false, reason: 'replayed', detail: `seq ${envelope.seq} <= last accepted ${this.#lastSeq}` };
    }
    return { ok: true, envelope, state: { lastSeq: envelope.seq } };
  }

  /** Commits a state returned by `check` (after the agent journaled it). */
  accept(state: CommandGuardState): void {
    if (state.lastSeq > this.#lastSeq) this.#lastSeq = state.lastSeq;
  }
}
