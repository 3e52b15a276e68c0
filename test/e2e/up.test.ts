/**
 * The README's first command's job: `uniota up` on embedded defaults brings
 * up the server, its embedded broker and a simulated fleet that can be
 * updated right away.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { up } from '../../packages/cli/src/up/up.ts';
import type { UpHandle } from '../../packages/cli/src/up/up.ts';

const dir = mkdtempSync(join(tmpdir(), 'uniota-up-'));
let h: UpHandle | null = null;
afterAll(async () => {
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('uniota up', () => {
  it('starts server, embedded broker and fleet; the demo update rolls out to every device', async () => {
    const lines: string[] = [];
    h = await up({ dataDir: dir, host: '127.0.0.1', port: 0, brokerPort: 0, devices: 12, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/created a demo trust root/);
    expect(h.server.brokerUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    // The API answers, and not to anonymous callers.
    const res = await fetch(`${h.server.address}/api/v1/devices`);
    expect(res.status).toBe(401);
    const s = h.server;
    const deadline = Date.now() + 20_000;
    while ((s.app.db.prepare('SELECT COUNT(*) AS n FROM devices').get() as { n: number }).n < 12) {
      if (Date.now() > deadline) throw new Error('devices did not announce themselves');
      await new Promise((r) => setTimeout(r, 50));
    }
    const healthy = h.imageIds[0] as string;
    const id = s.app.engine.createCampaign({ name: 'up demo', imageId: healthy, target: { hardware: ['sim-board-1'] }, waves: { canary: 2, percents: [100] }, timeoutMs: 60_000 }, 'test').campaign.id;
    for (;;) {
      const st = s.app.engine.status(id);
      if (st.campaign.state === 'completed') {
        expect(st.counts).toEqual({ succeeded: 12 });
        break;
      }
      if (Date.now() > deadline + 40_000) throw new Error(`campaign stuck: ${JSON.stringify(st.counts)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(h.fleet.versions()).toEqual({ '2.0.0': 12 });
  }, 90_000);
});
