import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../main.ts';
import { captureOutput } from '../testing/capture-output.ts';

// The whole operator flow through the real CLI: init the CAs, a device makes
// its key + CSR, the CA signs it, server and broker certificates, a
// revocation, then `broker-config` — and a real mosquitto run on exactly
// that output accepts the good device and refuses the revoked one.

const dir = mkdtempSync(join(tmpdir(), 'uniota-cli-pki-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (...n: string[]) => join(dir, ...n);
const pkiDir = p('pki');

const io = captureOutput();
const run = (...args: string[]) => main(['node', 'uniota', ...args]);
const openssl = (...args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('uniota pki + broker-config', () => {
  it('issues, signs, revokes; openssl and a real mosquitto agree', async () => {
    expect(await run('pki', 'init', '--dir', pkiDir)).toBe(0);
    expect(await run('pki', 'init', '--dir', pkiDir)).toBe(1);
    expect(io.err).toMatch(/PKI_EXISTS/);

    // On each device: key + CSR. At the CA: sign (with the expected id).
    for (const id of ['dev-1', 'dev-2']) {
      expect(await run('pki', 'csr', id, '--key-out', p('devices', `${id}.key`), '--out', p('devices', `${id}.csr`))).toBe(0);
      expect(await run('pki', 'sign', p('devices', `${id}.csr`), '--dir', pkiDir, '--expect', id, '--out', p('devices', `${id}.pem`))).toBe(0);
    }
    expect(await run('pki', 'sign', p('devices', 'dev-1.csr'), '--dir', pkiDir, '--expect', 'dev-9', '--out', p('x.pem'))).toBe(1);
    expect(io.err).toMatch(/PKI_BAD_IDENTITY/);
    expect(await run('pki', 'issue', 'uniota-server', '--profile', 'server', '--dir', pkiDir, '--out', p('server'))).toBe(0);
    const brokerDir = p('broker');
    expect(await run('pki', 'issue', 'broker', '--profile', 'broker', '--dir', pkiDir, '--out', brokerDir)).toBe(0);

    const verify = (cert: string, ...extra: string[]) => openssl('verify', '-CAfile', join(pkiDir, 'device-ca.pem'), ...extra, cert);
    expect(verify(p('devices', 'dev-1.pem')).status).toBe(0);
    expect(verify(p('server', 'uniota-server.pem')).status).toBe(0);
    // The broker is signed by the broker CA, which the device CA does not vouch for.
    expect(verify(join(brokerDir, 'broker.pem')).status).not.toBe(0);
    expect(openssl('verify', '-CAfile', join(pkiDir, 'broker-ca.pem'), join(brokerDir, 'broker.pem')).status).toBe(0);

    io.out = '';
    expect(await run('pki', 'revoke', 'dev-2', '--dir', pkiDir)).toBe(0);
    expect(io.out).toMatch(/revoked [0-9a-f]+ dev-2/);
    const crl = join(pkiDir, 'crl.pem');
    const r2 = verify(p('devices', 'dev-2.pem'), '-crl_check', '-CRLfile', crl);
    expect(r2.status).not.toBe(0);
    expect(r2.stdout + r2.stderr).toMatch(/certificate revoked/);
    expect(verify(p('devices', 'dev-1.pem'), '-crl_check', '-CRLfile', crl).status).toBe(0);

    const port = await freePort();
    expect(await run('broker-config', '--out', brokerDir, '--pki', pkiDir, '--port', String(port), '--host', '127.0.0.1')).toBe(0);
    expect(io.out).not.toMatch(/still needed/);
    const conf = readFileSync(join(brokerDir, 'mosquitto.conf'), 'utf8');
    expect(conf).toContain('require_certificate true');

    // mosquitto started as root drops to its own user: let it read this throwaway directory.
    for (const d of [dir, brokerDir]) chmodSync(d, 0o755);
    for (const f of readdirSync(brokerDir)) chmodSync(join(brokerDir, f), 0o644);
    writeFileSync(join(brokerDir, 'log.conf'), `${conf}log_dest stderr\n`);
    const child = spawn(process.env['MOSQUITTO_BIN'] ?? '/usr/sbin/mosquitto', ['-c', join(brokerDir, 'log.conf')], { stdio: 'ignore' });
    try {
      const attempt = (id: string) =>
        new Promise<string>((resolve) => {
          const c = mqtt.connect(`mqtts://127.0.0.1:${port}`, {
            clientId: id, reconnectPeriod: 0, connectTimeout: 3000, protocolVersion: 5,
            ca: readFileSync(join(pkiDir, 'broker-ca.pem')), cert: readFileSync(p('devices', `${id}.pem`)), key: readFileSync(p('devices', `${id}.key`)),
          });
          c.once('connect', () => (c.end(true), resolve('connected')));
          c.once('error', (e) => (c.end(true), resolve(`refused: ${e.message}`)));
        });
      let first = '';
      for (let i = 0; i < 100 && !first.startsWith('connected'); i++) {
        first = await attempt('dev-1');
        if (!first.startsWith('connected')) await new Promise((r) => setTimeout(r, 50));
      }
      expect(first).toBe('connected');
      expect(await attempt('dev-2')).toMatch(/refused: .*revoked/);
    } finally {
      child.kill('SIGTERM');
    }
  }, 60_000);

  it('issues the HTTPS API certificate from its own CA, and adds that CA to a PKI made before it existed', async () => {
    // A PKI from before the API CA (only device and broker CAs): a copy of
    // the first test's, less the API CA (copying saves two 3072-bit key generations).
    const old = p('old-pki');
    cpSync(pkiDir, old, { recursive: true });
    rmSync(join(old, 'api-ca.pem'));
    rmSync(join(old, 'api-ca.key'));
    const deviceCaBefore = readFileSync(join(old, 'device-ca.pem'), 'utf8');
    expect(await run('pki', 'issue', 'api', '--profile', 'https', '--dir', old, '--out', p('api'))).toBe(1);
    expect(io.err).toMatch(/PKI_NOT_INITIALIZED.*api CA/);
    io.out = '';
    expect(await run('pki', 'init', '--dir', old)).toBe(0);
    expect(io.out.trim()).toBe(`api CA ${join(old, 'api-ca.pem')}`);
    expect(readFileSync(join(old, 'device-ca.pem'), 'utf8')).toBe(deviceCaBefore);

    expect(await run('pki', 'issue', 'api', '--profile', 'https', '--san', 'updates.example', '127.0.0.1', '--dir', old, '--out', p('api'))).toBe(0);
    const cert = p('api', 'api.pem');
    expect(openssl('verify', '-purpose', 'sslserver', '-CAfile', join(old, 'api-ca.pem'), cert).status).toBe(0);
    // Neither the broker CA (what devices trust) nor the device CA vouches for it.
    expect(openssl('verify', '-CAfile', join(old, 'broker-ca.pem'), cert).status).not.toBe(0);
    expect(openssl('verify', '-CAfile', join(old, 'device-ca.pem'), cert).status).not.toBe(0);
    expect(openssl('x509', '-in', cert, '-noout', '-ext', 'subjectAltName').stdout).toMatch(/DNS:updates\.example.*IP Address:127\.0\.0\.1/s);
    expect(JSON.parse(readFileSync(join(old, 'issued.json'), 'utf8')).issued).toContainEqual(expect.objectContaining({ commonName: 'api', profile: 'https' }));

    // The same certificate without the key ever reaching the CA: key + CSR on
    // the API host, signed at the CA with the SANs the CA operator chooses.
    expect(await run('pki', 'csr', 'api2', '--key-out', p('api-host', 'api2.key'), '--out', p('api-host', 'api2.csr'))).toBe(0);
    expect(await run('pki', 'sign', p('api-host', 'api2.csr'), '--profile', 'https', '--san', 'updates.example', '--dir', old, '--expect', 'api2', '--out', p('api-host', 'api2.pem'))).toBe(0);
    const viaCsr = p('api-host', 'api2.pem');
    expect(openssl('verify', '-purpose', 'sslserver', '-CAfile', join(old, 'api-ca.pem'), viaCsr).status).toBe(0);
    expect(openssl('verify', '-CAfile', join(old, 'device-ca.pem'), viaCsr).status).not.toBe(0);
    expect(openssl('x509', '-in', viaCsr, '-noout', '-ext', 'subjectAltName').stdout).toMatch(/DNS:updates\.example/);
    // The certificate is for the key that stayed on the API host.
    const modulus = (args: string[]) => openssl(...args, '-noout', '-modulus').stdout;
    expect(modulus(['x509', '-in', viaCsr])).toBe(modulus(['rsa', '-in', p('api-host', 'api2.key')]));
    expect(readdirSync(old).some((f) => f.startsWith('api2'))).toBe(false);
    // SANs are for certificates clients connect to by name, not for device identities.
    expect(await run('pki', 'sign', p('api-host', 'api2.csr'), '--profile', 'device', '--san', 'x.example', '--dir', old, '--out', p('api-host', 'x.pem'))).toBe(1);
    expect(io.err).toMatch(/PKI_BAD_PROFILE.*--san/);
  });

  it.each([
    ['../escaped', 'parent directory'],
    ['/tmp/absolute', 'absolute path'],
    ['a/../../b', 'nested traversal'],
    ['..', 'dot-dot alone'],
    ['%2e%2e%2fx', 'URL-encoded traversal'],
    ['evil\u0000.pem', 'NUL byte'],
  ])('refuses a certificate name that would leave --out: %s (%s)', async (name) => {
    const out = p('contained', 'out');
    expect(await run('pki', 'issue', name, '--profile', 'broker', '--dir', pkiDir, '--out', out)).toBe(1);
    expect(io.err).toMatch(/CLI_USAGE.*cannot be used as a file name/);
    // Nothing written anywhere: not in --out, not next to it.
    expect(existsSync(p('contained'))).toBe(false);
    expect(existsSync(p('escaped.pem'))).toBe(false);
    expect(existsSync('/tmp/absolute.pem')).toBe(false);
  });
});
