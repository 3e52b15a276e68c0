import { spawnSync } from 'node:child_process';

/** One partition as `sfdisk --json` prints it. */
export interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
  uuid: string;
  name?: string;
}

/** What `sfdisk --json` reports about a GPT disk. */
export interface SfdiskTable {
  label: string;
  id: string;
  partitions: SfdiskPartition[];
}

/** Runs `sfdisk` with `args`; returns stdout and stderr, throws on a non-zero exit. */
function sfdisk(args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync('sfdisk', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sfdisk ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Runs the real `sfdisk --json` on an image file (test helper: the one place this package spawns a process). */
export function sfdiskJson(file: string): { table: SfdiskTable; warnings: string } {
  const { stdout, stderr } = sfdisk(['--json', file]);
  return { table: (JSON.parse(stdout) as { partitiontable: SfdiskTable }).partitiontable, warnings: stderr };
}

/** Runs `sfdisk --verify`; returns its report (it names every problem it finds). */
export function sfdiskVerify(file: string): string {
  const { stdout, stderr } = sfdisk(['--verify', file]);
  return stdout + stderr;
}
