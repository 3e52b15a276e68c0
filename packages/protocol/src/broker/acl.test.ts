import { describe, expect, it } from 'vitest';
import { aclAllows, BROKER_ACL } from './acl.ts';
import { mosquittoConfig } from './mosquitto-config.ts';

const opts = { serverUsername: 'uniota-server' };
const D = 'uniota/v1/devices';

// One row per decision; `dev-a` is the asking device unless the row says otherwise.
const rows: Array<[string, 'read' | 'write', string, boolean]> = [
  ['dev-a', 'write', `${D}/dev-a/hello`, true],
  ['dev-a', 'write', `${D}/dev-a/online`, true],
  ['dev-a', 'write', `${D}/dev-a/status`, true],
  ['dev-a', 'write', `${D}/dev-a/chunks/req`, true],
  ['dev-a', 'read', `${D}/dev-a/cmd`, true],
  ['dev-a', 'read', `${D}/dev-a/chunks/data`, true],
  ['dev-a', 'read', 'uniota/v1/images/img1/chunks', true],
  ['dev-a', 'read', 'uniota/v1/images/+/chunks', true],
  // another device's subtree
  ['dev-a', 'write', `${D}/dev-b/status`, false],
  ['dev-a', 'read', `${D}/dev-b/cmd`, false],
  ['dev-a', 'read', `${D}/+/cmd`, false],
  // a device must not write what only the server writes, nor read what it writes
  ['dev-a', 'write', `${D}/dev-a/cmd`, false],
  ['dev-a', 'write', 'uniota/v1/images/img1/chunks', false],
  ['dev-a', 'read', `${D}/dev-a/status`, false],
  // wildcards and broker namespaces
  ['dev-a', 'read', '#', false],
  ['dev-a', 'read', 'uniota/v1/#', false],
  ['dev-a', 'read', `${D}/dev-a/#`, false],
  ['dev-a', 'read', 'uniota/v1/images/#', false],
  ['dev-a', 'read', `$share/g/${D}/dev-a/cmd`, false],
  ['dev-a', 'read', '$SYS/#', false],
  ['dev-a', 'write', `${D}/dev-a/+`, false],
  // identities that could widen a %u pattern get nothing
  ['+', 'read', `${D}/+/cmd`, false],
  ['#', 'read', `${D}/#`, false],
  ['', 'read', `${D}//cmd`, false],
  // the server's account
  ['uniota-server', 'read', `${D}/+/status`, true],
  ['uniota-server', 'write', `${D}/dev-b/cmd`, true],
  ['uniota-server', 'read', `$share/workers/${D}/+/status`, true],
  ['uniota-server', 'read', '$SYS/#', false],
  ['uniota-server', 'read', 'other/topic', false],
  // the broker's warning log (denials of the mosquitto plugin): the server's account only
  ['uniota-server', 'read', '$SYS/broker/log/W', true],
  ['uniota-server', 'read', '$SYS/broker/log/N', false],
  ['uniota-server', 'write', '$SYS/broker/log/W', false],
  ['dev-a', 'read', '$SYS/broker/log/W', false],
  // a shared subscription needs a plain group name
  ['uniota-server', 'read', `$share/+/${D}/+/status`, false],
  ['uniota-server', 'read', `$share//${D}/+/status`, false],
  ['uniota-server', 'write', `$share/workers/${D}/dev-b/cmd`, false],
  // `%u` is the asking identity, never a literal level
  ['dev-a', 'write', `${D}/%u/status`, false],
];

describe('ACL table', () => {
  it.each(rows)('%s %s %s -> %s', (user, access, topic, allowed) => {
    expect(aclAllows(user, access, topic, opts)).toBe(allowed);
  });
});

describe('mosquitto config', () => {
  const { conf } = mosquittoConfig({
    port: 8883, deviceCaFile: '/etc/u/ca.pem', certFile: '/etc/u/b.pem', keyFile: '/etc/u/b.key',
    crlFile: '/etc/u/crl.pem', pluginFile: '/etc/u/uniota_acl.so', serverUsername: 'uniota-server',
  });
  const lines = conf.split('\n');
  it('requires client certificates from the device CA, the CRL, identity as username and no anonymous access', () => {
    for (const line of [
      'allow_anonymous false', 'require_certificate true', 'use_identity_as_username true', 'use_username_as_clientid true',
      'cafile /etc/u/ca.pem', 'crlfile /etc/u/crl.pem', 'tls_version tlsv1.2', 'listener 8883 0.0.0.0',
    ]) expect(lines).toContain(line);
  });
  it('loads the ACL plugin with every row of the one table, and no acl_file', () => {
    expect(lines).toContain('plugin /etc/u/uniota_acl.so');
    expect(lines).toContain('plugin_opt_server_username uniota-server');
    const rules = lines.filter((l) => l.startsWith('plugin_opt_acl_')).map((l) => l.split(' ').slice(1).join(' '));
    expect(rules).toEqual(BROKER_ACL.map((r) => `${r.who} ${r.access} ${r.filter}`));
    expect(rules).toContain('device write uniota/v1/devices/%u/status');
    expect(rules).toContain('device read uniota/v1/images/+/chunks');
    expect(rules).toContain('server read $SYS/broker/log/W');
    expect(lines.some((l) => l.startsWith('acl_file'))).toBe(false);
  });
  it('publishes the log on $SYS topics and keeps stderr', () => {
    expect(lines).toContain('log_dest topic');
    expect(lines).toContain('log_dest stderr');
  });
});
