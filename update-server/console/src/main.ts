import { api, setSession, whenSignedOut, type Me } from './api.ts';
import { h, replace } from './dom.ts';
import { adminPage } from './pages/admin.ts';
import { auditPage } from './pages/audit.ts';
import { campaignPage, campaignsPage, newCampaignPage } from './pages/campaigns.ts';
import { devicePage, devicesPage } from './pages/devices.ts';
import { imagePage, imagesPage } from './pages/images.ts';
import { loginPage } from './pages/login.ts';
import { overviewPage } from './pages/overview.ts';

const app = document.getElementById('app')!;
let me: Me | null = null;
let cleanup: (() => void) | void = undefined;

function nav(): void {
  const here = location.hash.split('?')[0] ?? '';
  const links: [string, string][] = [['#/', 'Overview'], ['#/devices', 'Devices'], ['#/images', 'Images'], ['#/campaigns', 'Campaigns'], ['#/audit', 'Audit log']];
  // Hiding the admin link is convenience only: the server checks the role on every call.
  if (me?.role === 'admin') links.push(['#/admin', 'Users & tokens']);
  replace(document.getElementById('nav')!, ...(me === null ? [] : links.map(([href, label]) =>
    h('a', { href, class: (href === '#/' ? here === '#/' || here === '' : here.startsWith(href)) ? 'active' : '' }, label))));
  replace(document.getElementById('who')!, me === null ? '' : h('span', { id: 'whoami' }, `${me.username} (${me.role})`),
    me === null ? null : h('button', { id: 'sign-out', onclick: () => void api('POST', '/auth/logout').finally(() => { me = null; setSession(null); void route(); }) }, 'Sign out'));
}

/** Renders the page for the current hash (`#/path?query`). */
async function route(): Promise<void> {
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  if (me === null) {
    try {
      me = await api<Me>('GET', '/auth/me');
      setSession(me);
    } catch {
      me = null;
    }
  }
  nav();
  if (me === null) {
    await loginPage(app, (m) => { me = m; void route(); });
    return;
  }
  const [path = '', query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter((p) => p !== '');
  try {
    if (parts.length === 0) await overviewPage(app);
    else if (parts[0] === 'devices' && parts[1] !== undefined) await devicePage(app, decodeURIComponent(parts[1]));
    else if (parts[0] === 'devices') await devicesPage(app, params);
    else if (parts[0] === 'images' && parts[1] !== undefined) await imagePage(app, parts[1]);
    else if (parts[0] === 'images') await imagesPage(app, me);
    else if (parts[0] === 'campaigns' && parts[1] === 'new') await newCampaignPage(app, params);
    else if (parts[0] === 'campaigns' && parts[1] !== undefined) cleanup = await campaignPage(app, Number(parts[1]), me);
    else if (parts[0] === 'campaigns') await campaignsPage(app, me);
    else if (parts[0] === 'audit') await auditPage(app, params);
    else if (parts[0] === 'admin') await adminPage(app);
    else replace(app, h('h1', null, 'Not found'));
  } catch (e) {
    replace(app, h('p', { class: 'error' }, e instanceof Error ? e.message : String(e)));
  }
  document.body.setAttribute('data-page', parts[0] ?? 'overview');
}

whenSignedOut(() => {
  if (me !== null) { me = null; setSession(null); void route(); }
});
window.addEventListener('hashchange', () => void route());
void route();
