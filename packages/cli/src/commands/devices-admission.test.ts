import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startServer, type RunningServer } from '@uniota/update-server';
import { main } from '../main.ts';
import { tempDir } from '../../../../update-server/src/test-helpers/fixtures.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trustSetup } from '../../../../update-server/src/test-helpers/http-fixture.ts';
import { captureOutput } from '../testing/capture-output.ts';

// `uniota devices accept|reject|decommission|preauthorize` against a real
// server running with admission required.

const tmp = tempDir();
let server: RunningServer;
let token = '';
const io = captureOutput();

beforeAll(async () => {
  const trust = trustSetup(Date.now());
  writeFileSync(join(tmp.dir, 'root.json'), JSON.stringify(trust.root));
  writeFileSync(join(tmp.dir, 'server.key'), trust.serverKeyPem);
  server = await startServer(
    loadConfig({}, { dataDir: tmp.dir, port: 0, embeddedBrokerPort: 0, logLevel: 'silent', tickMs: 50, admission: 'required' }),
  );
  server.app.engine.deviceHello({ deviceId: 'd-new', hardware: 'board-a' });
});
afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

const run = (...args: string[]) => main(['node', 'uniota', ...args, '--server', server.address, '--token', token]);

describe('uniota devices admission', () => {
  it('accepts a pending device, pre-authorizes a future one, and reports illegal changes with their code', async () => {
    expect(await main(['node', 'uniota', 'user', 'token', '--name', 'ops', '--role', 'operator', '--data-dir', tmp.dir])).toBe(0);
    token = io.out.trim();
    expect(server.app.engine.devices.get('d-new')?.admission).toBe('pending');
    io.out = '';
    expect(await run('devices', 'accept', 'd-new')).toBe(0);
    expect(io.out).toBe('d-new: accepted\n');
    expect(server.app.engine.devices.get('d-new')?.admission).toBe('accepted');
    io.out = '';
    expect(await run('devices', 'preauthorize', 'd-later')).toBe(0);
    expect(io.out).toBe('d-later: preauthorized (not seen yet)\n');
    server.app.engine.deviceHello({ deviceId: 'd-later', hardware: 'board-a' });
    expect(server.app.engine.devices.get('d-later')?.admission).toBe('accepted');
    expect(await run('devices', 'decommission', 'd-new')).toBe(0);
    io.err = '';
    expect(await run('devices', 'accept', 'd-new')).toBe(1);
    expect(io.err).toMatch(/^error SERVER_ILLEGAL_STATE/);
    // The plain listing still works beside the new subcommands.
    io.out = '';
    expect(await run('devices', '--json')).toBe(0);
    expect(JSON.parse(io.out).items.map((d: { id: string; admission: string }) => `${d.id}:${d.admission}`)).toEqual(['d-later:accepted', 'd-new:decommissioned']);
  });
});
