import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AgentService, DEFAULT_CONFIG_PATH, nodeProcessRunner, openUbootLinuxDevice, parseAgentConfig } from '@uniota/device-agent';

/** `uniota agent`: the device agent daemon for a real device (U-Boot env, slots on block devices or files). */
export function register(program: Command): void {
  program
    .command('agent')
    .description('run the device agent daemon (config file + UNIOTA_AGENT_* environment overrides)')
    .option('--config <file>', 'agent configuration (YAML or JSON)', process.env['UNIOTA_AGENT_CONFIG'] ?? DEFAULT_CONFIG_PATH)
    .action(async (o: { config: string }) => {
      const cfg = parseAgentConfig(readFileSync(o.config, 'utf8'), process.env);
      const log = (l: string) => process.stderr.write(`${new Date().toISOString()} ${l}\n`);
      const device = await openUbootLinuxDevice(cfg, { run: nodeProcessRunner, log });
      const tls = cfg.tls === undefined ? undefined : { ca: readFileSync(cfg.tls.ca), cert: readFileSync(cfg.tls.cert), key: readFileSync(cfg.tls.key) };
      const service = await AgentService.start({
        deviceId: cfg.deviceId,
        brokerUrl: cfg.brokerUrl,
        deps: device.deps,
        reboot: async () => {
          log('rebooting into the new slot');
          await device.reboot();
        },
        ...(tls === undefined ? {} : { link: { tls } }),
        logger: { warn: (obj, msg) => log(`${msg} ${JSON.stringify(obj)}`) },
      });
      log(`agent ${cfg.deviceId} running slot ${device.deps.runningSlot}, connected to ${cfg.brokerUrl}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await service.stop();
      await device.close();
    });
}
