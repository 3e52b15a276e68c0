import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UniotaError } from '@uniota/errors';
import { AuthService, AuditLog, isRole, loadConfig, openDb, roles, type Db, type Role } from '@uniota/update-server';

type DbOpts = { dataDir?: string; role: string };

/** Opens the server database named by --data-dir / UNIOTA_DATA_DIR (the server may be running: SQLite WAL allows it). */
function withDb<T>(o: DbOpts, fn: (db: Db, auth: AuthService, role: Role) => Promise<T>): Promise<T> {
  if (!isRole(o.role)) throw new UniotaError('SERVER_BAD_REQUEST', `--role must be one of ${roles.join(', ')}`);
  const config = loadConfig(process.env, o.dataDir !== undefined ? { dataDir: o.dataDir } : {});
  const db = openDb({ path: config.dbPath });
  const role = o.role;
  return fn(db, new AuthService(db, Date.now), role).finally(() => db.close());
}

/** The password from --password-stdin (first line of stdin) or UNIOTA_NEW_PASSWORD; never from argv, where `ps` would show it. */
function readPassword(fromStdin: boolean): string {
  const pw = fromStdin ? (readFileSync(0, 'utf8').split('\n')[0] ?? '') : (process.env['UNIOTA_NEW_PASSWORD'] ?? '');
  if (pw === '') throw new UniotaError('SERVER_BAD_REQUEST', 'give the password on stdin with --password-stdin or in UNIOTA_NEW_PASSWORD');
  return pw;
}

/**
 * `uniota user create` and `uniota user token`: work on the server database
 * directly, which is how the first admin exists without any default password
 * (whoever can write the data directory already owns the server).
 */
export function register(program: Command): void {
  const user = program.command('user').description('operator accounts and API tokens (writes the server database directly)');
  user
    .command('create')
    .description('create an operator account')
    .requiredOption('--username <name>', 'login name')
    .option('--role <role>', `one of ${roles.join(', ')}`, 'viewer')
    .option('--password-stdin', 'read the password from the first line of stdin (else UNIOTA_NEW_PASSWORD)')
    .option('--data-dir <dir>', 'server data directory (UNIOTA_DATA_DIR)')
    .action(async (o: DbOpts & { username: string; passwordStdin?: boolean }) => {
      const password = readPassword(o.passwordStdin === true);
      await withDb(o, async (db, auth, role) => {
        const u = await auth.createUser(o.username, password, role);
        new AuditLog(db, Date.now).append(`cli:${process.env['USER'] ?? 'local'}`, 'user.create', u.username, { role: u.role, via: 'cli' });
        process.stdout.write(`created ${u.role} ${u.username}\n`);
      });
    });
  user
    .command('token')
    .description('create an API token for CI and scripts; the secret is printed once')
    .requiredOption('--name <name>', 'what the token is for (shown in the audit log)')
    .option('--role <role>', `one of ${roles.join(', ')}`, 'viewer')
    .option('--data-dir <dir>', 'server data directory (UNIOTA_DATA_DIR)')
    .action(async (o: DbOpts & { name: string }) => {
      await withDb(o, async (db, auth, role) => {
        const actor = `cli:${process.env['USER'] ?? 'local'}`;
        const { token, secret } = auth.tokens.create({ name: o.name, role, createdBy: actor });
        new AuditLog(db, Date.now).append(actor, 'token.create', `token#${token.id}`, { name: token.name, role: token.role, via: 'cli' });
        process.stdout.write(`${secret}\n`);
        process.stderr.write(`token #${token.id} (${token.role}) created; this is the only time the secret is shown\n`);
      });
    });
}
