import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Drives the real fw_printenv/fw_setenv (Debian libubootenv-tool) against an
 * image file: the one place boot-control's tests spawn processes.
 */
export class FwEnvTools {
  readonly dir: string;
  readonly image: string;
  private readonly config: string;
  private readonly defaults: string;

  /** A temp dir holding `env.img` and an fw_env.config with two copies of `envSize` at `offsets`. */
  constructor(offsets: [number, number], envSize: number, imageSize: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'uniota-fwenv-'));
    this.image = join(this.dir, 'env.img');
    this.config = join(this.dir, 'fw_env.config');
    this.defaults = join(this.dir, 'default.env');
    writeFileSync(this.image, new Uint8Array(imageSize));
    const hex = (n: number): string => `0x${n.toString(16)}`;
    writeFileSync(
      this.config,
      offsets.map((o) => `${this.image} ${hex(o)} ${hex(envSize)}`).join('\n') + '\n',
    );
    writeFileSync(this.defaults, '');
  }

  /** All variables as fw_printenv prints them; throws if it finds no valid env. */
  printenv(): Map<string, string> {
    const out = run('fw_printenv', ['-c', this.config]);
    const vars = new Map<string, string>();
    for (const line of out.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) vars.set(line.slice(0, eq), line.slice(eq + 1));
    }
    return vars;
  }

  /**
   * Sets several variables in ONE fw_setenv write (its -s script, whose lines
   * in libubootenv 0.3 are `name=value`; `name=` deletes, so a null value
   * deletes and an empty string cannot be set). `defaults` (name value lines) is the env
   * fw_setenv starts from when neither copy is valid.
   */
  setenv(changes: Record<string, string | null>, defaults: Record<string, string> = {}): void {
    const script = join(this.dir, 'changes.txt');
    writeFileSync(script, Object.entries(changes).map(([k, v]) => `${k}=${v ?? ''}`).join('\n') + '\n');
    writeFileSync(this.defaults, Object.entries(defaults).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    run('fw_setenv', ['-c', this.config, '-f', this.defaults, '-s', script]);
  }

  /** Removes the temp dir. */
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}
