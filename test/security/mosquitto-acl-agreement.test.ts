import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aclAllows, parseBrokerLogLine, type BrokerLogEntry } from '@uniota/protocol';
import { mustConnect, startBroker, type BrokerUnderTest } from './brokers.ts';
import { makeSecurityPki, type SecurityPki } from './pki-fixture.ts';

/**
 * The uniota ACL plugin in a real mosquitto and aclAllows() in acl.ts (what
 * the embedded broker runs) must give the same answer: one row per
 * (identity, access, topic or filter), asked of the broker by a real client
 * with that identity's certificate. A `read` row is a SUBSCRIBE (granted, or
 * refused with 0x87), a `write` row a QoS 1 PUBLISH (PUBACK, or 0x87). Every
 * denial the plugin decided must also be in mosquitto's log, in the line the
 * server parses back to exactly that request (the encoding of spaces, `%`
 * and UTF-8 included). Identities that are not valid ids (`+`, `#`, empty)
 * cannot get a certificate from the project's PKI; acl.test.ts covers them.
 */

const D = 'uniota/v1/devices';
const SERVER = 'uniota-server';
type Who = 'dev-a' | typeof SERVER;

const rows: Array<[Who, 'read' | 'write', string]> = [
  ['dev-a', 'write', `${D}/dev-a/hello`],
  ['dev-a', 'write', `${D}/dev-a/online`],
  ['dev-a', 'write', `${D}/dev-a/status`],
  ['dev-a', 'write', `${D}/dev-a/chunks/req`],
  ['dev-a', 'read', `${D}/dev-a/cmd`],
  ['dev-a', 'read', `${D}/dev-a/chunks/data`],
  ['dev-a', 'read', 'uniota/v1/images/img1/chunks'],
  ['dev-a', 'read', 'uniota/v1/images/+/chunks'],
  ['dev-a', 'write', `${D}/dev-b/status`],
  ['dev-a', 'read', `${D}/dev-b/cmd`],
  ['dev-a', 'read', `${D}/+/cmd`],
  ['dev-a', 'read', `${D}/+/chunks/data`],
  ['dev-a', 'write', `${D}/dev-a/cmd`],
  ['dev-a', 'write', 'uniota/v1/images/img1/chunks'],
  ['dev-a', 'read', `${D}/dev-a/status`],
  ['dev-a', 'read', '#'],
  ['dev-a', 'read', '+/#'],
  ['dev-a', 'read', 'uniota/v1/#'],
  ['dev-a', 'read', `${D}/dev-a/#`],
  ['dev-a', 'read', `${D}/dev-a/+`],
  ['dev-a', 'read', 'uniota/v1/images/#'],
  ['dev-a', 'read', `$share/g/${D}/dev-a/cmd`],
  ['dev-a', 'read', '$share/g/#'],
  ['dev-a', 'read', '$SYS/#'],
  ['dev-a', 'read', '$SYS/broker/log/W'],
  ['dev-a', 'write', `${D}/%u/status`],
  ['dev-a', 'write', `${D}/dev-a/status/extra`],
  ['dev-a', 'write', `${D}/dev-a`],
  ['dev-a', 'write', `uniota/v1/devices//dev-a/status`],
  // encodings of the log line: space, percent sign, UTF-8, a topic longer than the plugin logs
  ['dev-a', 'write', `${D}/dev-a/status x=1 topic=forged`],
  ['dev-a', 'write', `${D}/dev-b/st%41tus`],
  ['dev-a', 'write', `${D}/dév-b/status`],
  ['dev-a', 'write', `${D}/dev-b/${'x'.repeat(400)}`],
  [SERVER, 'read', `${D}/+/status`],
  [SERVER, 'read', `${D}/+/hello`],
  [SERVER, 'read', 'uniota/v1/#'],
  [SERVER, 'write', `${D}/dev-b/cmd`],
  [SERVER, 'write', 'uniota/v1/images/img1/chunks'],
  [SERVER, 'read', `$share/workers/${D}/+/status`],
  [SERVER, 'read', '$SYS/broker/log/W'],
  [SERVER, 'read', '$SYS/broker/log/N'],
  [SERVER, 'read', '$SYS/#'],
  [SERVER, 'read', '#'],
  [SERVER, 'read', 'other/topic'],
  [SERVER, 'write', 'other/topic'],
];

let pki: SecurityPki;
let b: BrokerUnderTest;
const clients = new Map<Who, MqttClient>();

beforeAll(async () => {
  pki = makeSecurityPki();
  b = await startBroker('mosquitto', pki);
  clients.set('dev-a', await mustConnect(b, pki, pki.devices.a));
  clients.set(SERVER, await mustConnect(b, pki, pki.server));
}, 30_000);

afterAll(async () => {
  for (const c of clients.values()) await c.endAsync(true);
  await b?.stop();
});

/** What the broker answered: true = granted / accepted. */
async function ask(c: MqttClient, access: 'read' | 'write', topic: string): Promise<boolean> {
  if (access === 'read') {
    return c.subscribeAsync(topic, { qos: 1 }).then(
      (granted) => granted.every((g) => g.qos < 0x80),
      (e: Error) => {
        if (/Not authorized/.test(e.message)) return false;
        throw e;
      },
    );
  }
  return c.publishAsync(topic, 'probe', { qos: 1 }).then(
    () => true,
    (e: Error) => {
      if (/Not authorized/.test(e.message)) return false;
      throw e;
    },
  );
}

// mosquitto itself refuses these before any plugin (security.c, acl__check_dollar): no plugin line.
const deniedByMosquittoItself = (access: 'read' | 'write', topic: string) => access === 'write' && (topic.startsWith('$SYS') || topic.startsWith('$share'));

describe('the mosquitto ACL plugin agrees with acl.ts', () => {
  it.each(rows)('%s %s %s', async (who, access, topic) => {
    const expected = aclAllows(who, access, topic, { serverUsername: SERVER });
    const logBefore = b.records?.().length ?? 0;
    expect(await ask(clients.get(who)!, access, topic), `mosquitto answer (acl.ts says ${expected})`).toBe(expected);
    if (expected || deniedByMosquittoItself(access, topic)) return;
    // The denial as the server will read it back from the log.
    const kind = access === 'read' ? 'subscribe' : 'publish';
    const logged = () =>
      (b.records?.() ?? [])
        .slice(logBefore)
        .map((l) => parseBrokerLogLine(l))
        .filter((e): e is Extract<BrokerLogEntry, { kind: 'denied' }> => e?.kind === 'denied');
    const end = Date.now() + 3000;
    while (logged().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const [entry] = logged();
    // The plugin logs at most 256 bytes of a topic.
    const shown = Buffer.from(topic, 'utf8').subarray(0, 256).toString('utf8');
    expect(entry?.clientId).toBe(who);
    expect(entry?.denial).toEqual(kind === 'publish' ? { kind, username: who, topic: shown } : { kind, username: who, filter: shown });
  });

  it('bounds a flood of denials in the log: at most 100 lines a second, then one line with the count it dropped', async () => {
    const a = clients.get('dev-a')!;
    const logBefore = b.records?.().length ?? 0;
    // One SUBSCRIBE with 300 refused filters: 300 denials within (at most) two broker seconds.
    await a.subscribeAsync(Array.from({ length: 300 }, (_, i) => `${D}/dev-b/flood-${i}`), { qos: 1 }).catch(() => undefined);
    // The count is logged with the first denial of a later second.
    await new Promise((r) => setTimeout(r, 1100));
    await a.subscribeAsync(`${D}/dev-b/after-the-flood`, { qos: 1 }).catch(() => undefined);
    const entries = () => (b.records?.() ?? []).slice(logBefore).map((l) => parseBrokerLogLine(l)).filter((e) => e !== null);
    const end = Date.now() + 3000;
    while (!entries().some((e) => e.kind === 'denied' && e.denial.kind === 'subscribe' && e.denial.filter.endsWith('after-the-flood')) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const denied = entries().filter((e) => e.kind === 'denied').length;
    const suppressed = entries().reduce((n, e) => n + (e.kind === 'suppressed' ? e.count : 0), 0);
    expect(denied + suppressed, 'every denial is either logged or counted').toBe(301);
    expect(denied, 'lines logged for 301 denials').toBeLessThanOrEqual(201);
    expect(suppressed).toBeGreaterThanOrEqual(100);
  });

  it('leaves both sessions usable after every refusal', async () => {
    // Refusals are answers, not disconnects: both sessions are still up after the table.
    for (const c of clients.values()) expect(c.connected).toBe(true);
    expect(await ask(clients.get('dev-a')!, 'write', `${D}/dev-a/status`)).toBe(true);
  });
});
