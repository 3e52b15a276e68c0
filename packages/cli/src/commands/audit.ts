import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { UniotaError } from '@uniota/errors';
import { openDb, verifyAuditChain, type AuditVerification } from '@uniota/update-server';
import { clientOf, withServer } from './server-client.ts';

/** `uniota audit verify`: checks the hash chain of the server's audit log. */
export function register(program: Command): void {
  const audit = program.command('audit').description('the update server audit log');
  withServer(audit.command('verify').description('check every link of the audit hash chain (exit 1 if broken)'))
    .option('--db <file>', 'check this server.db directly instead of asking the server')
    .action(async (o: { server: string; token?: string; db?: string }) => {
      let v: AuditVerification;
      if (o.db !== undefined) {
        if (!existsSync(o.db)) throw new UniotaError('SERVER_NOT_FOUND', `no database at ${o.db}`);
        const db = openDb({ path: o.db });
        try {
          v = verifyAuditChain(db);
        } finally {
          db.close();
        }
      } else {
        v = await clientOf(o).request<AuditVerification>('GET', '/api/v1/audit/verify');
      }
      if (!v.ok) throw new UniotaError('SERVER_AUDIT_CHAIN_BROKEN', `audit chain broken at entry ${v.brokenAt}: ${v.reason}`);
      process.stdout.write(`audit chain intact: ${v.entries} entries, head ${v.head}\n`);
    });
}
