import { api, setSession, type Me } from '../api.ts';
import { h, replace } from '../dom.ts';

/** Sign-in form, plus the one-time first-admin form while the server has no accounts. */
export async function loginPage(root: HTMLElement, done: (me: Me) => void): Promise<void> {
  const { open } = await api<{ open: boolean }>('GET', '/auth/setup');
  const user = h('input', { name: 'username', id: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { name: 'password', id: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const token = h('input', { name: 'setup-token', id: 'setup-token', placeholder: 'printed by the server at first start' });
  const error = h('div', { class: 'error', id: 'login-error' });
  const submit = async (e: Event) => {
    e.preventDefault();
    replace(error);
    try {
      if (open) await api('POST', '/auth/setup', { token: token.value.trim(), username: user.value, password: pass.value });
      const me = await api<Me>('POST', '/auth/login', { username: user.value, password: pass.value });
      setSession(me);
      done(me);
    } catch (err) {
      replace(error, err instanceof Error ? err.message : String(err));
    }
  };
  replace(
    root,
    h('div', { class: 'login' },
      h('h1', null, open ? 'Create the first admin' : 'Sign in'),
      h('form', { class: 'grid', onsubmit: submit },
        open ? h('label', null, 'Setup token') : null, open ? token : null,
        h('label', null, 'Username'), user, h('label', null, 'Password'), pass,
        h('button', { class: 'primary', type: 'submit', id: 'sign-in' }, open ? 'Create admin and sign in' : 'Sign in')),
      error),
  );
}
