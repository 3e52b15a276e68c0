/**
 * A crash-safe journal on the data partition: two copies, each
 * `magic | u32 seq | u32 length | JSON | u32 crc32`, written alternately.
 *
 * A write goes to the copy NOT holding the newest record, so a torn write
 * destroys at most the record being written and the previous one survives;
 * the reader takes the valid copy with the higher sequence number. This is the
 * same argument as U-Boot's redundant env, with a 32-bit sequence instead of
 * an 8-bit flag so it never wraps in a device's lifetime.
 */
import { crc32 } from 'node:zlib';
import type { BlockDevice } from '@uniota/block-device';
import { JOURNAL_FORMAT_VERSION, RETIRED_STATES, AGENT_STATES } from './agent-state.ts';
import type { AgentStateName, JournalState } from './agent-state.ts';
import { AgentError } from './errors.ts';

const MAGIC = 0x554e4a31; // "UNJ1"
const HEAD = 12;

interface Decoded {
  seq: number;
  state: JournalState;
}

function decodeCopy(bytes: Uint8Array): Decoded | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < HEAD + 4 || view.getUint32(0) !== MAGIC) return null;
  const seq = view.getUint32(4);
  const len = view.getUint32(8);
  if (HEAD + len + 4 > bytes.length) return null;
  const body = bytes.subarray(0, HEAD + len);
  if ((crc32(body) >>> 0) !== view.getUint32(HEAD + len)) return null;
  try {
    const state = JSON.parse(new TextDecoder().decode(bytes.subarray(HEAD, HEAD + len))) as JournalState;
    return { seq, state };
  } catch {
    return null;
  }
}

function encodeCopy(seq: number, state: JournalState, limit: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(state));
  const out = new Uint8Array(HEAD + json.length + 4);
  if (out.length > limit) {
    throw new AgentError('JOURNAL_TOO_LARGE', `journal record of ${out.length} bytes exceeds its ${limit}-byte copy area`);
  }
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC);
  view.setUint32(4, seq);
  view.setUint32(8, json.length);
  out.set(json, HEAD);
  view.setUint32(HEAD + json.length, crc32(out.subarray(0, HEAD + json.length)) >>> 0);
  return out;
}

/** Maps a stored state name to today's; refuses names no agent version ever wrote. */
function normaliseState(state: JournalState): JournalState {
  if (typeof state.formatVersion !== 'number' || state.formatVersion > JOURNAL_FORMAT_VERSION) {
    throw new AgentError('JOURNAL_FORMAT_UNSUPPORTED', `journal format ${String(state.formatVersion)} is newer than this agent (${JOURNAL_FORMAT_VERSION})`);
  }
  const name = RETIRED_STATES[state.state] ?? state.state;
  if (!(AGENT_STATES as readonly string[]).includes(name)) {
    throw new AgentError('JOURNAL_FORMAT_UNSUPPORTED', `journal holds unknown state '${state.state}'`);
  }
  return { ...state, state: name as AgentStateName };
}

export class Journal {
  private seq = 0;
  private newestCopy: 0 | 1 | null = null;

  /** `copySize` bytes per copy; the device needs at least 2 * copySize bytes. */
  constructor(
    private readonly dev: BlockDevice,
    private readonly copySize: number = Math.floor(dev.size / 2),
  ) {}

  /** Reads the newest valid record; null when neither copy is valid (never provisioned). */
  async load(): Promise<JournalState | null> {
    const copies = [await this.#readCopy(0), await this.#readCopy(1)];
    let best: { copy: 0 | 1; d: Decoded } | null = null;
    copies.forEach((bytes, i) => {
      const d = decodeCopy(bytes);
      if (d !== null && (best === null || d.seq > best.d.seq)) best = { copy: i as 0 | 1, d };
    });
    if (best === null) {
      this.seq = 0;
      this.newestCopy = null;
      return null;
    }
    const { copy, d } = best as { copy: 0 | 1; d: Decoded };
    this.seq = d.seq;
    this.newestCopy = copy;
    return normaliseState(d.state);
  }

  /**
   * The record bytes of one copy: its head, then only as many bytes as the
   * head announces (a record is a few KiB, its copy area on a device often
   * 512 KiB or more). A head that is not a record's is returned as it is, and
   * decodes to nothing.
   */
  async #readCopy(copy: 0 | 1): Promise<Uint8Array> {
    const at = copy * this.copySize;
    const head = await this.dev.read(at, Math.min(HEAD, this.copySize));
    if (head.length < HEAD) return head;
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const total = HEAD + view.getUint32(8) + 4;
    if (view.getUint32(0) !== MAGIC || total > this.copySize) return head;
    return this.dev.read(at, total);
  }

  /** Durably stores `state` (write + flush) into the copy that does not hold the newest record. */
  async save(state: JournalState): Promise<void> {
    const target: 0 | 1 = this.newestCopy === 0 ? 1 : 0;
    const bytes = encodeCopy(this.seq + 1, state, this.copySize);
    await this.dev.write(target * this.copySize, bytes);
    await this.dev.flush();
    this.seq += 1;
    this.newestCopy = target;
  }
}
