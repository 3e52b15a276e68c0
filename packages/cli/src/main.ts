import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { UniotaError } from '@uniota/errors';

/**
 * Each file in commands/ is one sub-command (or group) and exports
 * `register(program)`. Loading them by directory keeps this file stable while
 * every part of the system adds its own commands.
 */
export interface CommandModule {
  register(program: Command): void;
}

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

/** Builds the program with every command registered. */
export async function buildProgram(): Promise<Command> {
  const program = new Command('uniota')
    .description('uniota: atomic A/B over-the-air updates for unikernel IoT fleets')
    .exitOverride()
    .showHelpAfterError();
  const files = readdirSync(commandsDir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .sort();
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(commandsDir, file)).href)) as Partial<CommandModule>;
    if (typeof mod.register === 'function') mod.register(program);
  }
  return program;
}

/** Runs the CLI; returns the process exit code. Errors print one clear line, never a stack. */
export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof UniotaError) {
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
