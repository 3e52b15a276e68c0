import { describe, expect, it } from 'vitest';
import { generateKeyPair, signerFromPem } from '@uniota/image';
import { signCommand } from './command-envelope.ts';
import { decodeMessage } from './decode.ts';
import { MAX_HEADER_B64, MAX_OFFER_ROOTS, MAX_ROOT_TEXT } from './schemas.ts';
import { deviceTopic } from './topics.ts';

const key = signerFromPem(generateKeyPair().privateKeyPem);

function command(roots: string[] | undefined): Buffer {
  const body = {
    type: 'offer' as const, campaignId: 'c', imageId: 'i', header: 'A'.repeat(MAX_HEADER_B64 - 4), payloadSize: 1, chunkSize: 1, chunkCount: 1,
    transfer: 'fanout' as const, downloadOnly: false, maintenanceWindow: null, ...(roots === undefined ? {} : { roots }),
  };
  return Buffer.from(JSON.stringify(signCommand({ deviceId: 'dev-1', actionId: 'a', seq: 1, nonce: 'n'.repeat(16), expiresAt: Date.now() + 1000, body }, key)));
}

describe('root documents in an offer', () => {
  const topic = deviceTopic('command', 'dev-1');

  it('fit next to the largest signed header at their bounds', () => {
    const full = Array.from({ length: MAX_OFFER_ROOTS }, () => 'x'.repeat(MAX_ROOT_TEXT));
    expect(decodeMessage(topic, command(full)).ok).toBe(true);
    expect(decodeMessage(topic, command(undefined)).ok).toBe(true);
  });

  it('are refused past the count or length bound, or as an empty list', () => {
    expect(decodeMessage(topic, command(Array.from({ length: MAX_OFFER_ROOTS + 1 }, () => '{}'))).ok).toBe(false);
    expect(decodeMessage(topic, command(['x'.repeat(MAX_ROOT_TEXT + 1)])).ok).toBe(false);
    expect(decodeMessage(topic, command([])).ok).toBe(false);
  });

  it('hello and status may carry the root version, and old messages without it still decode', () => {
    const hello = { v: 1, deviceId: 'dev-1', hardware: 'h', agentVersion: '1', runningSlot: 'a', slots: { a: { version: null, bootable: false }, b: { version: null, bootable: false } }, lastCommandSeq: 0 };
    expect(decodeMessage(deviceTopic('hello', 'dev-1'), Buffer.from(JSON.stringify({ ...hello, rootVersion: 2 }))).ok).toBe(true);
    expect(decodeMessage(deviceTopic('hello', 'dev-1'), Buffer.from(JSON.stringify(hello))).ok).toBe(true);
    expect(decodeMessage(deviceTopic('hello', 'dev-1'), Buffer.from(JSON.stringify({ ...hello, rootVersion: 0 }))).ok).toBe(false);
    const status = { v: 1, deviceId: 'dev-1', campaignId: 'c', actionId: 'a', at: 1, step: { name: 'offered' } };
    expect(decodeMessage(deviceTopic('status', 'dev-1'), Buffer.from(JSON.stringify({ ...status, rootVersion: 3 }))).ok).toBe(true);
  });
});
