import { describe, expect, it } from 'vitest';
import { aclAllows } from './acl.ts';
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
];

describe('ACL table', () => {
  it.each(rows)('%s %s %s -> %s', (user, access, topic, allowed) => {
    expect(aclAllows(user, access, topic, opts)).toBe(allowed);
  });
});

describe('mosquitto config', () => {
  const { conf, acl } = mosquittoConfig({
    port: 8883, deviceCaFile: '/etc/u/ca.pem', certFile: '/etc/u/b.pem', keyFile: '/etc/u/b.key',
    crlFile: '/etc/u/crl.pem', aclFile: '/etc/u/acl', serverUsername: 'uniota-server',
  });
  it('requires client certificates from the device CA, the CRL, identity as username and no anonymous access', () => {
    for (const line of [
      'allow_anonymous false', 'require_certificate true', 'use_identity_as_username true', 'use_username_as_clientid true',
      'cafile /etc/u/ca.pem', 'crlfile /etc/u/crl.pem', 'tls_version tlsv1.2', 'acl_file /etc/u/acl', 'listener 8883 0.0.0.0',
    ]) expect(conf.split('\n')).toContain(line);
  });
  it('renders every device rule as a %u pattern and gives the server its own user block', () => {
    const lines = acl.split('\n');
    expect(lines).toContain('pattern write uniota/v1/devices/%u/status');
    expect(lines).toContain('pattern read uniota/v1/devices/%u/cmd');
    // the shared fan-out rule is a pattern too: a `topic` line outside a user block applies to anonymous clients only
    expect(lines).toContain('pattern read uniota/v1/images/+/chunks');
    expect(lines.indexOf('pattern read uniota/v1/images/+/chunks')).toBeLessThan(lines.indexOf('user uniota-server'));
    expect(lines.indexOf('topic readwrite uniota/v1/#')).toBeGreaterThan(lines.indexOf('user uniota-server'));
    expect(lines.filter((l) => l.startsWith('topic readwrite'))).toHaveLength(1);
  });
});
