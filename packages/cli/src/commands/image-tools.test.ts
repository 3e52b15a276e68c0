import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../main.ts';
import { captureOutput } from '../testing/capture-output.ts';

// Round trip through the real CLI entry point: keygen -> root init -> sign ->
// verify -> inspect, plus the refusals a release engineer would hit.

const dir = mkdtempSync(join(tmpdir(), 'uniota-cli-image-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const io = captureOutput();

const p = (name: string) => join(dir, name);
const run = (...args: string[]) => main(['node', 'uniota', ...args]);

describe('uniota image commands', () => {
  it('keygen -> root init -> sign -> verify -> inspect', async () => {
    const keyids: Record<string, string> = {};
    for (const name of ['root', 'img', 'srv', 'root2']) {
      expect(await run('keygen', '--out', dir, '--name', name)).toBe(0);
      keyids[name] = io.out.trim();
      io.out = '';
      expect(keyids[name]).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(statSync(p('root.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(p('img.pub'), 'utf8')).toContain('BEGIN PUBLIC KEY');

    expect(
      await run('root', 'init', '--root-key', p('root.key'), '--image-key', p('img.pub'), '--server-key', p('srv.pub'), '--expires', '30', '--out', p('root.json')),
    ).toBe(0);
    const root = JSON.parse(readFileSync(p('root.json'), 'utf8'));
    expect(root.signed.roles.images.keyids).toEqual([keyids.img]);
    expect(root.signatures.map((s: { keyid: string }) => s.keyid)).toEqual([keyids.root]);

    writeFileSync(p('payload.bin'), Buffer.alloc(3000, 0x5a));
    writeFileSync(p('notes.txt'), 'Fixes <script>alert(1)</script>');
    const sign = (key: string, outFile: string, counter = '7') =>
      run('sign', '--payload', p('payload.bin'), '--product', 'thermostat', '--version', '1.4.0', '--security-counter', counter,
        '--hardware', 'rpi4', 'qemu-virt', '--expires', '10', '--release-notes', p('notes.txt'), '--key', p(key), '--out', p(outFile));
    expect(await sign('img.key', 'b.uni')).toBe(0);

    io.out = '';
    expect(await run('verify', p('b.uni'), '--root', p('root.json'), '--hardware', 'qemu-virt', '--min-security-counter', '7')).toBe(0);
    expect(io.out).toContain('OK');
    expect(io.out).toContain('thermostat 1.4.0');
    expect(io.out).toContain('3000 bytes');

    io.out = '';
    expect(await run('inspect', p('b.uni'))).toBe(0);
    expect(io.out.split('\n')[0]).toContain('UNVERIFIED');
    const shown = JSON.parse(io.out.slice(io.out.indexOf('\n') + 1));
    expect(shown.manifest.releaseNotes).toBe('Fixes <script>alert(1)</script>');
    expect(shown.signatures).toEqual([{ keyid: keyids.img, sigLength: 64 }]);
    expect(shown.payloadLength).toBe(3000);

    // Refusals: one line `error CODE: message`, exit 1, no stack.
    const refuse = async (args: string[], code: string) => {
      io.err = '';
      expect(await run(...args)).toBe(1);
      expect(io.err).toMatch(new RegExp(`^error ${code}: .+\\n$`));
      expect(io.err).not.toContain('    at ');
    };
    await refuse(['verify', p('b.uni'), '--root', p('root.json'), '--hardware', 'esp32'], 'HARDWARE_INCOMPATIBLE');
    await refuse(['verify', p('b.uni'), '--root', p('root.json'), '--hardware', 'rpi4', '--min-security-counter', '8'], 'SECURITY_COUNTER_ROLLBACK');
    expect(await sign('srv.key', 'server-signed.uni')).toBe(0);
    await refuse(['verify', p('server-signed.uni'), '--root', p('root.json'), '--hardware', 'rpi4'], 'KEY_NOT_AUTHORIZED');
    const tampered = readFileSync(p('b.uni'));
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    writeFileSync(p('tampered.uni'), tampered);
    await refuse(['verify', p('tampered.uni'), '--root', p('root.json'), '--hardware', 'rpi4'], 'CHUNK_HASH_MISMATCH');
    await refuse(['keygen', '--out', dir, '--name', 'img'], 'CLI_USAGE');

    // Rotation: new root key, signed by old and new; old-only is refused and nothing is written.
    await refuse(
      ['root', 'rotate', '--current', p('root.json'), '--sign-old', p('root.key'), '--sign-new', p('root.key'), '--root-key', p('root2.pub'), '--expires', '30', '--out', p('bad.json')],
      'ROOT_ROTATION_INVALID',
    );
    expect(() => statSync(p('bad.json'))).toThrow();
    expect(
      await run('root', 'rotate', '--current', p('root.json'), '--sign-old', p('root.key'), '--sign-new', p('root2.key'), '--root-key', p('root2.pub'), '--expires', '30', '--out', p('root-v2.json')),
    ).toBe(0);
    const v2 = JSON.parse(readFileSync(p('root-v2.json'), 'utf8'));
    expect(v2.signed.version).toBe(2);
    expect(v2.signed.roles.root.keyids).toEqual([keyids.root2]);
    expect(v2.signed.roles.images.keyids).toEqual([keyids.img]);
    io.out = '';
    expect(await run('verify', p('b.uni'), '--root', p('root-v2.json'), '--hardware', 'rpi4')).toBe(0);
    expect(io.out).toContain('root version 2');
  });
});
