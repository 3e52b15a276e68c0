import type { Command } from 'commander';
import { clientOf, out } from './server-client.ts';

interface AdmissionView {
  id: string;
  admission: string | null;
  preauthorized: boolean;
  refusedMessages: number;
}

const actions = [
  ['accept', 'let a pending (or rejected) device join the fleet'],
  ['reject', 'refuse a device: its messages are ignored, unfinished updates withdrawn'],
  ['decommission', 'retire a device for good (revoke its certificate too: uniota pki revoke <id>)'],
  ['preauthorize', 'accept this id at its first hello instead of leaving it pending'],
] as const;

function addAdmissionCommands(devices: Command): void {
  for (const [action, description] of actions) {
    // --server/--token belong to `devices` (withServer there); commander
    // hands them to the parent wherever they appear, so read them from it.
    devices
      .command(action)
      .description(description)
      .argument('<device-id>')
      .option('--json', 'print JSON')
      .action(async (id: string, _local: unknown, cmd: Command) => {
        const o = cmd.optsWithGlobals<{ server: string; token?: string; json?: boolean }>();
        const v = await clientOf(o).request<AdmissionView>('POST', `/api/v1/devices/${encodeURIComponent(id)}/admission`, { action });
        out(o.json === true, v, () => [`${v.id}: ${v.admission ?? (v.preauthorized ? 'preauthorized (not seen yet)' : 'unknown')}`]);
      });
  }
}

/**
 * `uniota devices accept|reject|decommission|preauthorize <id>`. The `devices`
 * group itself lives in devices.ts; command files load in name order, so the
 * subcommands are attached when `devices` is dispatched if it did not exist
 * yet when this file registered.
 */
export function register(program: Command): void {
  const existing = program.commands.find((c) => c.name() === 'devices');
  if (existing !== undefined) {
    addAdmissionCommands(existing);
    return;
  }
  let added = false;
  program.hook('preSubcommand', (_root, sub) => {
    if (added || sub.name() !== 'devices') return;
    added = true;
    addAdmissionCommands(sub);
  });
}
