import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, generateKeyPair, issueCertificate, systemPkiContext, type CaMaterial } from '@uniota/pki';
import { ApiClient, AuthService, loadConfig, startServer, type RunningServer } from '@uniota/update-server';
import { makeBundle, trustSetup } from '../../update-server/src/test-helpers/http-fixture.ts';
import { main } from '../../packages/cli/src/main.ts';
import { captureOutput } from '../../packages/cli/src/testing/capture-output.ts';

// `uniota server` with UNIOTA_HTTPS_CERT/KEY, over real sockets: the API and
// the console answer only TLS 1.2+, only a client that trusts the API CA gets
// through, and a browser session cookie is Secure (and __Host- prefixed).

let server: RunningServer;
let port: number;
let apiCa: CaMaterial;
let otherCa: CaMaterial;
let trust: ReturnType<typeof trustSetup>;
const dir = mkdtempSync(join(tmpdir(), 'uniota-server-https-'));
const p = (n: string) => join(dir, n);
const io = captureOutput();

function ca(name: string): CaMaterial {
  const k = generateKeyPair();
  return { certPem: createCa({ commonName: name, keyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem, validDays: 30 }, systemPkiContext), keyPem: k.privateKeyPem };
}

beforeAll(async () => {
  apiCa = ca('uniota test API CA');
  otherCa = ca('some other CA');
  const k = generateKeyPair();
  const cert = issueCertificate(apiCa, { profile: 'https', commonName: 'uniota-api', publicKeyPem: k.publicKeyPem, validDays: 30 }, systemPkiContext);
  writeFileSync(p('api.pem'), cert.certPem);
  writeFileSync(p('api.key'), k.privateKeyPem);
  writeFileSync(p('api-ca.pem'), apiCa.certPem);
  writeFileSync(p('other-ca.pem'), otherCa.certPem);
  trust = trustSetup(Date.now());
  writeFileSync(p('root.json'), JSON.stringify(trust.root));
  writeFileSync(p('server.key'), trust.serverKeyPem);
  const config = loadConfig(
    { UNIOTA_HTTPS_CERT: p('api.pem'), UNIOTA_HTTPS_KEY: p('api.key') },
    { dataDir: dir, port: 0, embeddedBrokerPort: 0, logLevel: 'silent', tickMs: 1000 },
  );
  server = await startServer(config);
  port = Number(new URL(server.address).port);
  // Accounts live in the server's database; the same store the running server reads.
  await new AuthService(server.app.db, Date.now).createUser('alice', 'correct horse battery', 'operator');
}, 60_000);
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One HTTPS request trusting `caPem`; resolves with status, headers and body. */
function get(path: string, opts: { ca?: string; method?: string; body?: string; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', ca: opts.ca ?? apiCa.certPem, headers: opts.headers ?? {} },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Outcome of a raw TLS handshake limited to the given protocol versions. */
function handshake(version: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'): Promise<{ ok: true; protocol: string | null } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port,
      ca: apiCa.certPem,
      servername: 'localhost',
      minVersion: version,
      maxVersion: version,
      // Lets OUR side offer TLS 1.1 at all (OpenSSL 3 disables it by default),
      // so a refusal below is the server's.
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    s.once('secureConnect', () => {
      resolve({ ok: true, protocol: s.getProtocol() });
      s.end();
    });
    s.once('error', (e) => resolve({ ok: false, error: e.message }));
  });
}

describe('update server over HTTPS', () => {
  it('listens on https:// and answers a client that trusts the API CA', async () => {
    expect(server.address).toMatch(/^https:\/\//);
    const r = await get('/healthz');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ ok: true });
    // Browsers are told to stay on https.
    expect(r.headers['strict-transport-security']).toMatch(/max-age=\d+/);
  });

  it('does not serve plain HTTP on its port', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz' }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (e) => resolve(`error ${e.message}`));
      req.end();
    });
    expect(outcome).toMatch(/^error /);
  });

  it('refuses TLS 1.1 and accepts TLS 1.2 and 1.3', async () => {
    const old = await handshake('TLSv1.1');
    // The server's alert, not our own client refusing: OpenSSL names an alert it received this way.
    expect(old).toMatchObject({ ok: false, error: expect.stringMatching(/alert protocol version/) });
    expect(await handshake('TLSv1.2')).toEqual({ ok: true, protocol: 'TLSv1.2' });
    expect(await handshake('TLSv1.3')).toEqual({ ok: true, protocol: 'TLSv1.3' });
  });

  it('fails for a client that trusts another CA, or only the system CAs', async () => {
    await expect(get('/healthz', { ca: otherCa.certPem })).rejects.toThrow(/certificate/);
    await expect(new ApiClient(server.address, undefined, { ca: otherCa.certPem }).request('GET', '/healthz')).rejects.toMatchObject({
      code: 'SERVER_GATEWAY_FAILED',
      message: expect.stringMatching(/certificate/),
    });
    await expect(new ApiClient(server.address).request('GET', '/healthz')).rejects.toMatchObject({ code: 'SERVER_GATEWAY_FAILED' });
  });

  it('logs in over HTTPS with a Secure __Host- session cookie, which then authorizes API calls', async () => {
    const login = await get('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'correct horse battery' }),
    });
    expect(login.status).toBe(200);
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(/^__Host-uniota_session=[^;]+;/);
    expect(setCookie.split('; ')).toEqual(expect.arrayContaining(['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']));
    const cookie = setCookie.split(';')[0]!;
    const me = await get('/api/v1/auth/me', { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ username: 'alice', role: 'operator', kind: 'session' });
    const devices = await get('/api/v1/devices', { headers: { cookie } });
    expect(devices.status).toBe(200);
    expect(JSON.parse(devices.body)).toMatchObject({ items: [], total: 0 });
    // Without the cookie the same call is refused: the 200 above was the session's doing.
    expect((await get('/api/v1/devices')).status).toBe(401);
  });

  it('serves the CLI with --ca or UNIOTA_CA, and names the certificate problem without it', async () => {
    const token = new AuthService(server.app.db, Date.now).tokens.create({ name: 'cli', role: 'viewer', createdBy: 'test' }).secret;
    const run = (...args: string[]) => main(['node', 'uniota', ...args]);
    expect(await run('devices', '--server', server.address, '--token', token, '--ca', p('api-ca.pem'), '--json')).toBe(0);
    expect(JSON.parse(io.out)).toMatchObject({ items: [], total: 0 });

    io.out = '';
    process.env['UNIOTA_CA'] = p('api-ca.pem');
    try {
      expect(await run('devices', '--server', server.address, '--token', token, '--json')).toBe(0);
      expect(JSON.parse(io.out)).toMatchObject({ items: [], total: 0 });
    } finally {
      delete process.env['UNIOTA_CA'];
    }

    io.err = '';
    expect(await run('devices', '--server', server.address, '--token', token, '--ca', p('other-ca.pem'))).toBe(1);
    expect(io.err).toMatch(/SERVER_GATEWAY_FAILED.*certificate/);
    io.err = '';
    expect(await run('devices', '--server', server.address.replace('https:', 'http:'), '--token', token, '--ca', p('api-ca.pem'))).toBe(1);
    expect(io.err).toMatch(/not https/);
  });

  it('streams campaign events to the CLI client over HTTPS with its token (what `campaign --watch` reads)', async () => {
    const token = new AuthService(server.app.db, Date.now).tokens.create({ name: 'watch', role: 'viewer', createdBy: 'test' }).secret;
    const client = new ApiClient(server.address, token, { ca: apiCa.certPem });
    server.app.engine.deviceHello({ deviceId: 'dev-1', hardware: 'board-a', currentVersion: '1.0.0' });
    const imageId = server.app.images.upload(makeBundle(trust.imagesSigner, Date.now()), 'test').id;
    const id = server.app.engine.createCampaign({ name: 'watched', imageId, target: { deviceIds: ['dev-1'] } }, 'test').campaign.id;
    const ac = new AbortController();
    let first = '';
    for await (const chunk of client.stream(`/api/v1/campaigns/${id}/events`, ac.signal)) {
      first += new TextDecoder().decode(chunk);
      if (first.includes('\n\n')) break;
    }
    ac.abort();
    expect(first).toMatch(/^event: snapshot\ndata: \{"campaign":\{"id":\d+,"name":"watched"/);
    // The same stream without the token is refused: the one above was authorized by it.
    const anonymous = new ApiClient(server.address, undefined, { ca: apiCa.certPem }).stream(`/api/v1/campaigns/${id}/events`, new AbortController().signal);
    await expect(anonymous.next()).rejects.toMatchObject({ code: 'SERVER_UNAUTHENTICATED' });
  });

  it('refuses to start with a key that does not belong to the certificate (nothing left listening)', async () => {
    writeFileSync(p('wrong.key'), generateKeyPair().privateKeyPem);
    const config = loadConfig({}, { dataDir: dir, port: 0, embeddedBrokerPort: 0, logLevel: 'silent', httpsCertPath: p('api.pem'), httpsKeyPath: p('wrong.key') });
    await expect(startServer(config)).rejects.toMatchObject({ code: 'SERVER_CONFIG_INVALID', message: expect.stringMatching(/does not belong/) });
  });
});
