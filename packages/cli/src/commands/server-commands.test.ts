import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startServer, type RunningServer } from '@uniota/update-server';
import { main } from '../main.ts';
// Test helpers of the update server (a trust root and a signed bundle); not part of its public API.
import { makeBundle, trustSetup } from '../../../../update-server/src/test-helpers/http-fixture.ts';
import { tempDir } from '../../../../update-server/src/test-helpers/fixtures.ts';
import { captureOutput } from '../testing/capture-output.ts';

// The server-facing commands against a real server on a free loopback port.

const tmp = tempDir();
let server: RunningServer;
let bundlePath = '';
let badPath = '';

beforeAll(async () => {
  const trust = trustSetup(Date.now());
  writeFileSync(join(tmp.dir, 'root.json'), JSON.stringify(trust.root));
  writeFileSync(join(tmp.dir, 'server.key'), trust.serverKeyPem);
  bundlePath = join(tmp.dir, 'good.bundle');
  writeFileSync(bundlePath, makeBundle(trust.imagesSigner, Date.now()));
  badPath = join(tmp.dir, 'bad.bundle');
  writeFileSync(badPath, makeBundle(trust.otherSigner, Date.now()));
  server = await startServer(loadConfig({}, { dataDir: tmp.dir, port: 0, embeddedBrokerPort: 0, logLevel: 'silent', tickMs: 50 }));
  for (const id of ['d1', 'd2', 'd3']) server.app.engine.deviceHello({ deviceId: id, hardware: 'board-a', tags: ['lab'], currentVersion: '1.0.0' });
});
afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

const io = captureOutput();

let token = '';
const run = (...args: string[]) => main(['node', 'uniota', ...args, '--server', server.address, '--token', token]);

describe('uniota user', () => {
  it('creates an admin and an API token in the server database; commands without a token get 401', async () => {
    process.env['UNIOTA_NEW_PASSWORD'] = 'correct horse battery';
    try {
      expect(await main(['node', 'uniota', 'user', 'create', '--username', 'root-admin', '--role', 'admin', '--data-dir', tmp.dir])).toBe(0);
      expect(io.out).toBe('created admin root-admin\n');
      expect(await main(['node', 'uniota', 'user', 'create', '--username', 'root-admin', '--role', 'admin', '--data-dir', tmp.dir])).toBe(1);
      expect(io.err).toMatch(/SERVER_USER_EXISTS/);
    } finally {
      delete process.env['UNIOTA_NEW_PASSWORD'];
    }
    io.out = '';
    expect(await main(['node', 'uniota', 'user', 'token', '--name', 'cli-test', '--role', 'operator', '--data-dir', tmp.dir])).toBe(0);
    token = io.out.trim();
    expect(token).toMatch(/^uniota_[A-Za-z0-9_-]{43}$/);
    expect(await main(['node', 'uniota', 'image', 'list', '--server', server.address, '--token', ''])).toBe(1);
    expect(io.err).toMatch(/error SERVER_UNAUTHENTICATED/);
  });
});

describe('uniota server commands', () => {
  it('image upload rejects a badly signed bundle with its code, then uploads and lists a good one', async () => {
    expect(await run('image', 'upload', badPath)).toBe(1);
    expect(io.err).toMatch(/^error SERVER_IMAGE_REJECTED: .*UNKNOWN_KEY/);
    expect(await run('image', 'upload', bundlePath)).toBe(0);
    expect(io.out).toMatch(/^uploaded [0-9a-f]{64}  version 2\.0\.0  for board-a/);
    io.out = '';
    expect(await run('image', 'list')).toBe(0);
    expect(io.out).toMatch(/VERSION[\s\S]*2\.0\.0/);
  });

  it('devices lists the fleet', async () => {
    expect(await run('devices', '--tag', 'lab')).toBe(0);
    expect(io.out).toMatch(/d1\s+board-a\s+1\.0\.0/);
    expect(io.out).toMatch(/3 of 3/);
  });

  it('campaign create/status/pause/resume/cancel, then audit verify', async () => {
    const imageId = server.app.images.list()[0]!.id;
    expect(await run('campaign', 'create', '--name', 'cli', '--image', imageId, '--devices', 'd2,d1,d3', '--canary', '1', '--abort', 'all:50:2:pause')).toBe(0);
    const id = /created campaign (\d+) for 3 devices in 2 waves \(1 \/ 2\)/.exec(io.out)?.[1];
    expect(id).toBeDefined();
    io.out = '';
    expect(await run('campaign', 'status', id!)).toBe(0);
    expect(io.out).toMatch(new RegExp(`campaign ${id} running`));
    expect(await run('campaign', 'pause', id!)).toBe(0);
    expect(await run('campaign', 'resume', id!)).toBe(0);
    expect(await run('campaign', 'cancel', id!)).toBe(0);
    expect(io.out).toMatch(/canceled/);
    expect(await run('campaign', 'resume', id!)).toBe(1);
    expect(io.err).toMatch(/error SERVER_ILLEGAL_STATE/);
    io.out = '';
    expect(await run('campaign', 'status', id!, '--watch')).toBe(0); // ended campaign: one line, returns
    expect(io.out).toMatch(/canceled/);
    io.out = '';
    expect(await run('audit', 'verify')).toBe(0);
    expect(io.out).toMatch(/audit chain intact: \d+ entries/);
    // The audit log names the token the CLI authenticated with.
    expect(server.app.engine.audit.list(0, 1000).filter((e) => e.action === 'campaign.create').map((e) => e.actor)).toEqual([
      expect.stringMatching(/^token:cli-test#1@/),
    ]);
  });
});
