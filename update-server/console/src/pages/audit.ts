import { api } from '../api.ts';
import { h, replace, table, when } from '../dom.ts';
import type { AuditEntry } from '../types.ts';

const PAGE = 100;

/** Audit log: who did what when, and whether the hash chain is intact. */
export async function auditPage(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const after = Number(params.get('after') ?? 0) || 0;
  const [v, { items }] = await Promise.all([
    api<{ ok: boolean; entries: number; head?: string; brokenAt?: number; reason?: string }>('GET', '/audit/verify'),
    api<{ items: AuditEntry[] }>('GET', `/audit?after=${after}&limit=${PAGE}`),
  ]);
  replace(
    root,
    h('h1', null, 'Audit log'),
    h('p', { id: 'chain', class: v.ok ? 'ok' : 'bad' }, v.ok
      ? `Hash chain valid: ${v.entries} entries, head ${(v.head ?? '').slice(0, 16)}…`
      : `Hash chain BROKEN at entry ${v.brokenAt}: ${v.reason}`),
    table(['#', 'When', 'Who', 'Action', 'Subject', 'Details'], items.map((e) => [e.seq, when(e.at), e.actor, e.action, e.subject, h('code', null, e.details)]), { id: 'audit-table' }),
    h('div', { class: 'toolbar' },
      after > 0 ? h('a', { href: `#/audit?after=${Math.max(0, after - PAGE)}` }, '‹ earlier') : null,
      items.length === PAGE ? h('a', { href: `#/audit?after=${items.at(-1)!.seq}` }, 'later ›') : null),
  );
}
