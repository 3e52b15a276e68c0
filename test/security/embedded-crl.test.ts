import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCrl, systemPkiContext } from '@uniota/pki';
import { startSecureEmbeddedBroker, type SecureEmbeddedBroker } from '@uniota/protocol';
import { connectAs, type BrokerUnderTest } from './brokers.ts';
import { makeSecurityPki, type SecurityPki } from './pki-fixture.ts';

// Revocation without a restart on the embedded broker: a new CRL applies to
// the next handshake.
let pki: SecurityPki;
let broker: SecureEmbeddedBroker;
let b: BrokerUnderTest;

beforeAll(async () => {
  pki = makeSecurityPki();
  // Start with an empty CRL: dev-a is fine.
  broker = await startSecureEmbeddedBroker({
    deviceCaPem: pki.deviceCa.certPem, certPem: pki.broker.certPem, keyPem: pki.broker.keyPem,
    crlPem: buildCrl(pki.deviceCa, [], { crlNumber: 1, nextUpdateDays: 7 }, systemPkiContext), serverUsername: pki.server.name,
  });
  b = { name: 'embedded', url: broker.url, protocolVersion: 4, denials: [], stop: () => broker.close() };
});
afterAll(async () => broker?.close());

describe('embedded broker CRL update', () => {
  it('refuses a device from the next handshake on once its certificate is in the new CRL', async () => {
    const before = await connectAs(b, pki, pki.devices.a);
    expect(before.ok).toBe(true);
    if (before.ok) await before.client.endAsync(true);
    broker.setCrl(buildCrl(pki.deviceCa, [{ serial: pki.devices.a.serial, revokedAt: new Date() }], { crlNumber: 2, nextUpdateDays: 7 }, systemPkiContext));
    const after = await connectAs(b, pki, pki.devices.a);
    expect(after.ok).toBe(false);
    const other = await connectAs(b, pki, pki.devices.b);
    expect(other.ok).toBe(true);
    if (other.ok) await other.client.endAsync(true);
  });
});
