import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { build, createServerApp, fsBlobStore, openDb, rootBundleVerifier } from '@uniota/update-server';
import { tokenFor, trustSetup, testPasswordCost } from '../../update-server/src/test-helpers/http-fixture.ts';
import { FakeGateway } from '../../update-server/src/test-helpers/fixtures.ts';
import { main } from '../../packages/cli/src/main.ts';
import { captureOutput } from '../../packages/cli/src/testing/capture-output.ts';
import { publishTablePart, type TableRow } from './attack-table.ts';

// "Path traversal in any file name" (issue #6): every place a name from
// outside becomes a path on disk, attacked with `../`, absolute paths, NUL
// bytes and URL-encoded (also double-encoded) traversal. Each case asserts
// what an attacker would look for: the secret file next to the served
// directory is never in an answer, and nothing is written outside the
// directory that was given.

const SECRET = 'TOP-SECRET-do-not-serve';
const root = mkdtempSync(join(tmpdir(), 'uniota-traversal-'));
const consoleDir = join(root, 'console-dist');
const blobDir = join(root, 'blobs');
/** One attack-table row per case, pushed only once the case's assertions passed. */
const table: TableRow[] = [];
const row = (attack: string, observed: string) => table.push({ cls: 'console/API (path traversal)', attack: attack.replaceAll(root, '<tmp>').replaceAll(encodeURIComponent(root), '<tmp>'), expected: 'refused, nothing read or written outside', observed });
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  // Issue #6's ONE attack table: these cases are its "path traversal in any file name" rows.
  if (table.length > 0) console.log(publishTablePart('path-traversal', table));
});

describe('HTTP: console static files and API ids (raw requests, no client-side normalization)', () => {
  let f: FastifyInstance;
  let port: number;
  let token: string;

  beforeAll(async () => {
    mkdirSync(join(consoleDir, 'assets'), { recursive: true });
    writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>uniota</title>');
    writeFileSync(join(consoleDir, 'assets', 'app.js'), 'console.log("app")');
    // Next to the served directory: the plain secret, and a sibling whose name
    // starts like the served one (a prefix check would let it through).
    writeFileSync(join(root, 'secret.txt'), SECRET);
    mkdirSync(join(root, 'console-dist-evil'));
    writeFileSync(join(root, 'console-dist-evil', 'x.txt'), SECRET);
    mkdirSync(blobDir);
    const trust = trustSetup(Date.now());
    const app = createServerApp({ db: openDb({ path: ':memory:' }), gateway: new FakeGateway(), blobs: fsBlobStore(blobDir), verifyImage: rootBundleVerifier(trust.root, () => new Date()) });
    const built = await build({ app, consoleDir, auth: { passwordCost: testPasswordCost } });
    token = tokenFor(built, 'admin');
    f = built;
    await f.listen({ host: '127.0.0.1', port: 0 });
    port = (f.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await f?.close();
  });

  /** Sends the request line exactly as given (curl and browsers would clean up `..` first). */
  function raw(path: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => {
        s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
      });
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString('latin1')));
      s.on('error', reject);
      s.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
    });
  }

  it('serves what is inside console-dist (so the refusals below are not a broken server)', async () => {
    const r = await raw('/assets/app.js');
    expect(r.status).toBe(200);
    expect(r.text).toContain('console.log("app")');
  });

  it.each([
    '/../secret.txt',
    '/assets/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/%252e%252e%252fsecret.txt',
    '/..%5csecret.txt',
    '/..\\secret.txt',
    `/${join(root, 'secret.txt')}`,
    `/${encodeURIComponent(join(root, 'secret.txt'))}`,
    '/../console-dist-evil/x.txt',
    '/%2e%2e/console-dist-evil/x.txt',
    '/index.html%00/../../secret.txt',
    '/assets/app.js%00.txt',
  ])('console: %s is not served', async (path) => {
    const r = await raw(path);
    expect(r.text).not.toContain(SECRET);
    expect(r.status).not.toBe(200);
    expect([400, 403, 404]).toContain(r.status);
    row(`console file GET ${path} (raw request line)`, `HTTP ${r.status}; the secret next to the served directory is not in the answer`);
  });

  it.each([
    '/api/v1/images/..%2f..%2fsecret.txt',
    '/api/v1/images/%2e%2e',
    `/api/v1/images/${encodeURIComponent(join(root, 'secret.txt'))}`,
    `/api/v1/images/${'a'.repeat(63)}%00`,
    '/api/v1/images/../../secret.txt/manifest',
  ])('image ids: %s is refused and reads no file', async (path) => {
    const r = await raw(path);
    expect(r.text).not.toContain(SECRET);
    expect([400, 404]).toContain(r.status);
    row(`image id GET ${path}`, `HTTP ${r.status}; no file read (the secret is not in the answer)`);
  });
});

describe('blob store: ids are content hashes, nothing else reaches the disk', () => {
  it('returns nothing for a traversal, absolute, NUL or encoded id, and the stored blob for its hash', () => {
    const dir = join(root, 'store');
    const store = fsBlobStore(dir);
    writeFileSync(join(root, 'outside.bin'), SECRET);
    const id = store.put(new TextEncoder().encode('bundle bytes'));
    expect(new TextDecoder().decode(store.get(id))).toBe('bundle bytes');
    for (const bad of ['../outside.bin', `../../${'a'.repeat(62)}`, join(root, 'outside.bin'), `${id}\u0000`, `${id.slice(0, 2)}/../../outside.bin`, '%2e%2e%2foutside.bin', id.toUpperCase()]) {
      expect(store.get(bad)).toBeUndefined();
      row(`blob store id ${JSON.stringify(bad)}`, 'nothing returned (only a stored hash is a blob id)');
    }
  });
});

describe('CLI: names that become files inside a given directory', () => {
  const io = captureOutput();
  const run = (...args: string[]) => main(['node', 'uniota', ...args]);

  it.each(['../escaped', '/tmp/uniota-traversal-abs', 'a/../../b', '..', '.hidden', '%2e%2e%2fx'])('keygen --name %s is refused, nothing written', async (name) => {
    const out = join(root, 'keys', 'out');
    expect(await run('keygen', '--out', out, '--name', name)).toBe(1);
    expect(io.err).toMatch(/CLI_USAGE/);
    expect(existsSync(join(root, 'keys'))).toBe(false);
    expect(existsSync('/tmp/uniota-traversal-abs.key')).toBe(false);
    expect(readdirSync(root)).not.toContain('escaped.key');
    row(`CLI keygen --name ${name}`, 'exit 1 with CLI_USAGE; no key file written anywhere');
  });
});
