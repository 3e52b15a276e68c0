import { api } from '../api.ts';
import { h, replace, table, when } from '../dom.ts';
import type { Device } from '../types.ts';

const PAGE = 50;

/**
 * Device list: the server filters and pages (LIMIT/OFFSET over an index), so
 * the page only ever holds one page of rows, however large the fleet.
 */
export async function devicesPage(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const q = { q: params.get('q') ?? '', hardware: params.get('hardware') ?? '', tag: params.get('tag') ?? '', version: params.get('version') ?? '', online: params.get('online') ?? '' };
  const offset = Number(params.get('offset') ?? 0) || 0;
  const query = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  for (const [k, v] of Object.entries(q)) if (v !== '') query.set(k, v);
  const res = await api<{ items: Device[]; total: number }>('GET', `/devices?${query}`);
  const go = (next: Record<string, string>) => {
    const p = new URLSearchParams({ ...q, offset: '0', ...next });
    for (const [k, v] of [...p]) if (v === '' || (k === 'offset' && v === '0')) p.delete(k);
    location.hash = `#/devices?${p}`;
  };
  const input = (name: keyof typeof q, placeholder: string) =>
    h('input', { name, placeholder, value: q[name], onchange: (e: Event) => go({ [name]: (e.target as HTMLInputElement).value.trim() }) });
  const onlineSel = h('select', { name: 'online', onchange: (e: Event) => go({ online: (e.target as HTMLSelectElement).value }) },
    h('option', { value: '' }, 'online + offline'), h('option', { value: 'true', selected: q.online === 'true' }, 'online'), h('option', { value: 'false', selected: q.online === 'false' }, 'offline'));
  const last = Math.min(offset + PAGE, res.total);
  replace(
    root,
    h('h1', null, 'Devices'),
    h('div', { class: 'toolbar' }, input('q', 'search device id'), input('hardware', 'hardware'), input('tag', 'tag'), input('version', 'version'), onlineSel),
    h('div', { class: 'toolbar' },
      h('span', { id: 'device-count' }, res.total === 0 ? 'no devices' : `${offset + 1}–${last} of ${res.total}`),
      h('button', { id: 'prev', disabled: offset === 0, onclick: () => go({ offset: String(Math.max(0, offset - PAGE)) }) }, '‹ previous'),
      h('button', { id: 'next', disabled: last >= res.total, onclick: () => go({ offset: String(offset + PAGE) }) }, 'next ›')),
    table(['Device', 'Hardware', 'Version', 'Slot', 'Tags', 'Status', 'Last seen'], res.items.map((d) => [
      h('a', { href: `#/devices/${encodeURIComponent(d.id)}` }, d.id), d.hardware, d.currentVersion ?? '—', d.bootedSlot ?? '—', d.tags.join(', '),
      h('span', { class: d.online ? 'ok' : 'muted' }, d.online ? 'online' : 'offline'), when(d.lastSeen),
    ]), { id: 'devices-table' }),
  );
}

/** One device: what it runs, from which slot, when it was seen, and its update history. */
export async function devicePage(root: HTMLElement, id: string): Promise<void> {
  const r = await api<{ device: Device; actions: { id: number; campaignId: number; wave: number; state: string; attempt: number; failureKind: string | null; detail: string | null; updatedAt: number }[] }>(
    'GET', `/devices/${encodeURIComponent(id)}`);
  const d = r.device;
  replace(
    root,
    h('h1', null, `Device ${d.id}`),
    table(['', ''], [
      ['Status', h('span', { class: d.online ? 'ok' : 'muted' }, d.online ? 'online' : 'offline')],
      ['Hardware', d.hardware], ['Running version', d.currentVersion ?? '—'], ['Running slot', d.bootedSlot ?? '—'],
      ['Tags', d.tags.join(', ') || '—'], ['First seen', when(d.firstSeen)], ['Last seen', when(d.lastSeen)],
    ], { id: 'device-facts' }),
    h('h2', null, 'Slots'),
    d.slots === null ? h('p', { class: 'muted' }, 'The agent has not reported its slots yet.') :
      table(['Slot', 'Version', 'Verified', 'State'], (['A', 'B'] as const).map((name) => {
        const s = name === 'A' ? d.slots!.a : d.slots!.b;
        const running = d.bootedSlot === name;
        // good: running and committed; trying: running on trial; standby: the other slot.
        const state = running ? (d.slots!.trial ? 'trying' : 'good (running)') : s.bootable ? 'standby' : 'empty or not bootable';
        return [name, s.version ?? '—', s.bootable ? 'yes' : 'no', state];
      }), { id: 'device-slots' }),
    h('h2', null, 'Update history'),
    r.actions.length === 0 ? h('p', { class: 'muted' }, 'Never part of a campaign.') :
      table(['Campaign', 'Wave', 'State', 'Attempt', 'Failure', 'Detail', 'Updated'], r.actions.map((a) => [
        h('a', { href: `#/campaigns/${a.campaignId}` }, `#${a.campaignId}`), a.wave, a.state, a.attempt, a.failureKind ?? '', a.detail ?? '', when(a.updatedAt),
      ])),
  );
}
