import type { Command } from 'commander';

/** `uniota version`: prints the tool's version. */
export function register(program: Command): void {
  program
    .command('version')
    .description('print the uniota version')
    .action(() => {
      process.stdout.write('uniota 0.1.0\n');
    });
}
