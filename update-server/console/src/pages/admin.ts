import { api } from '../api.ts';
import { h, replace, table, when } from '../dom.ts';

interface User { id: number; username: string; role: string; disabled: boolean; createdAt: number }
interface Token { id: number; name: string; role: string; createdBy: string; createdAt: number; lastUsedAt: number | null; revokedAt: number | null }

const roleSelect = () => h('select', { name: 'role' }, ...['viewer', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));

/** Admin: operator accounts and API tokens (a token's secret is shown once, right after creation). */
export async function adminPage(root: HTMLElement): Promise<void> {
  const [{ items: users }, { items: tokens }] = await Promise.all([api<{ items: User[] }>('GET', '/users'), api<{ items: Token[] }>('GET', '/tokens')]);
  const msg = h('div', { id: 'admin-msg' });
  const fail = (e: unknown) => replace(msg, h('p', { class: 'error' }, e instanceof Error ? e.message : String(e)));
  const uName = h('input', { name: 'username', placeholder: 'username' });
  const uPass = h('input', { name: 'password', type: 'password', placeholder: 'password (12+ characters)', autocomplete: 'new-password' });
  const uRole = roleSelect();
  const tName = h('input', { name: 'token-name', placeholder: 'what it is for, e.g. ci' });
  const tRole = roleSelect();
  replace(
    root,
    h('h1', null, 'Users and API tokens'),
    msg,
    h('h2', null, 'Users'),
    table(['User', 'Role', 'Status', 'Created', ''], users.map((u) => [u.username, u.role, u.disabled ? 'disabled' : 'active', when(u.createdAt),
      u.disabled ? '' : h('button', { onclick: () => api('POST', `/users/${u.id}/disable`).then(() => adminPage(root), fail) }, 'Disable')])),
    h('div', { class: 'toolbar' }, uName, uPass, uRole,
      h('button', { class: 'primary', onclick: () => api('POST', '/users', { username: uName.value, password: uPass.value, role: uRole.value }).then(() => adminPage(root), fail) }, 'Create user')),
    h('h2', null, 'API tokens'),
    table(['#', 'Name', 'Role', 'Created by', 'Created', 'Last used', ''], tokens.map((t) => [t.id, t.name, t.role, t.createdBy, when(t.createdAt), when(t.lastUsedAt),
      t.revokedAt !== null ? `revoked ${when(t.revokedAt)}` : h('button', { onclick: () => api('POST', `/tokens/${t.id}/revoke`).then(() => adminPage(root), fail) }, 'Revoke')]), { id: 'tokens-table' }),
    h('div', { class: 'toolbar' }, tName, tRole,
      h('button', {
        class: 'primary',
        onclick: async () => {
          try {
            const r = await api<{ secret: string }>('POST', '/tokens', { name: tName.value, role: tRole.value });
            await adminPage(root);
            replace(document.getElementById('admin-msg')!, h('p', null, 'Copy this token now; it is not shown again:'), h('div', { class: 'secret', id: 'new-token' }, r.secret));
          } catch (e) { fail(e); }
        },
      }, 'Create token')),
  );
}
