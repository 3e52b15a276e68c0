import { api, type Me } from '../api.ts';
import { lineChart } from '../charts.ts';
import { confirmAction, h, replace, table, when } from '../dom.ts';
import { failedStates, finishedStates, sum, type CampaignStatus, type Counts, type Image } from '../types.ts';

/** A stacked bar: succeeded, failed, in progress, out of `total`. */
export function campaignProgress(c: Counts, total: number, attrs: Record<string, string> = {}): HTMLElement {
  const ok = c['succeeded'] ?? 0;
  const bad = sum(c, failedStates);
  const busy = total - ok - bad - (c['queued'] ?? 0) - (c['canceled'] ?? 0);
  const seg = (cls: string, n: number) => {
    const s = h('span', { class: cls, title: `${n}` });
    s.style.width = `${total === 0 ? 0 : (100 * n) / total}%`; // CSSOM, allowed by the CSP (no inline style attribute)
    return s;
  };
  return h('div', { class: 'bar', ...attrs, 'data-done': String(ok + bad), 'data-total': String(total) }, seg('s', ok), seg('f', bad), seg('p', Math.max(0, busy)));
}

/** Campaign list. */
export async function campaignsPage(root: HTMLElement, me: Me): Promise<void> {
  const { items } = await api<{ items: CampaignStatus[] }>('GET', '/campaigns');
  replace(
    root,
    h('h1', null, 'Campaigns'),
    me.role === 'viewer' ? null : h('p', null, h('a', { href: '#/campaigns/new', id: 'new-campaign' }, '+ New campaign')),
    table(['Campaign', 'Image', 'State', 'Targets', 'Progress', 'Created'], items.sort((a, b) => b.campaign.id - a.campaign.id).map((c) => [
      h('a', { href: `#/campaigns/${c.campaign.id}` }, `#${c.campaign.id} ${c.campaign.name}`), c.image.version, c.campaign.state, c.total,
      campaignProgress(c.counts, c.total), when(c.campaign.createdAt),
    ]), { id: 'campaigns-table' }),
  );
}

const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x !== '');

/** Campaign creation form with a live count of matching devices. */
export async function newCampaignPage(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const { items: images } = await api<{ items: Image[] }>('GET', '/images');
  const f = {
    name: h('input', { name: 'name', required: true, value: `rollout ${new Date().toISOString().slice(0, 16)}` }),
    image: h('select', { name: 'image' }, ...images.map((i) => h('option', { value: i.id, selected: i.id === params.get('image') }, `${i.version} (${i.compatible.join(', ')})`))),
    tags: h('input', { name: 'tags', placeholder: 'any of these tags, comma-separated' }),
    hardware: h('input', { name: 'hardware', placeholder: 'hardware types, comma-separated' }),
    versions: h('input', { name: 'versions', placeholder: 'only devices running these versions' }),
    ids: h('textarea', { name: 'ids', rows: 2, placeholder: 'explicit device ids (replaces the filters)' }),
    canary: h('input', { name: 'canary', type: 'number', min: 0, value: 1 }),
    percents: h('input', { name: 'percents', value: '50, 100' }),
    success: h('input', { name: 'success', type: 'number', min: 0, max: 100, value: 100 }),
    abortType: h('select', { name: 'abortType' }, ...['none', 'all', 'failed', 'rolled_back', 'timed_out', 'rejected'].map((t) => h('option', { value: t }, t))),
    abortPct: h('input', { name: 'abortPct', type: 'number', min: 1, max: 100, value: 20 }),
    abortMin: h('input', { name: 'abortMin', type: 'number', min: 1, value: 5 }),
    abortAction: h('select', { name: 'abortAction' }, h('option', { value: 'pause' }, 'pause'), h('option', { value: 'abort' }, 'abort')),
    timeout: h('input', { name: 'timeout', type: 'number', min: 1, value: 30 }),
    retries: h('input', { name: 'retries', type: 'number', min: 1, max: 10, value: 3 }),
    winStart: h('input', { name: 'winStart', placeholder: 'UTC HH:MM (empty = any time)', pattern: '([01][0-9]|2[0-3]):[0-5][0-9]' }),
    winMinutes: h('input', { name: 'winMinutes', type: 'number', min: 1, max: 1440, value: 120 }),
  };
  const matching = h('strong', { id: 'matching' }, '…');
  const error = h('div', { class: 'error', id: 'create-error' });
  const target = () => {
    const ids = list(f.ids.value.replace(/\s+/g, ','));
    if (ids.length > 0) return { deviceIds: ids };
    const t: Record<string, string[]> = {};
    if (list(f.tags.value).length) t['tags'] = list(f.tags.value);
    if (list(f.hardware.value).length) t['hardware'] = list(f.hardware.value);
    if (list(f.versions.value).length) t['currentVersions'] = list(f.versions.value);
    return t;
  };
  let seq = 0;
  const preview = async () => {
    if (f.image.value === '') return replace(matching, 'upload an image first');
    const mine = ++seq;
    try {
      const r = await api<{ matching: number }>('POST', '/campaigns/preview', { imageId: f.image.value, target: target() });
      if (mine === seq) replace(matching, `${r.matching} matching device${r.matching === 1 ? '' : 's'}`);
    } catch (e) {
      if (mine === seq) replace(matching, e instanceof Error ? e.message : String(e));
    }
  };
  const row = (label: string, ...c: HTMLElement[]) => [h('label', null, label), h('div', null, ...c)];
  const form = h('form', {
    class: 'grid', id: 'campaign-form', oninput: () => void preview(),
    onsubmit: async (e: Event) => {
      e.preventDefault();
      replace(error);
      const spec: Record<string, unknown> = {
        name: f.name.value, imageId: f.image.value, target: target(),
        waves: { canary: Number(f.canary.value), percents: list(f.percents.value).map(Number), successPercent: Number(f.success.value) },
        timeoutMs: Number(f.timeout.value) * 60_000,
        retry: { maxAttempts: Number(f.retries.value) },
        abort: f.abortType.value === 'none' ? [] : [{ failureType: f.abortType.value, thresholdPercent: Number(f.abortPct.value), minFinished: Number(f.abortMin.value), action: f.abortAction.value }],
      };
      if (f.winStart.value !== '') spec['maintenanceWindow'] = { start: f.winStart.value, durationMinutes: Number(f.winMinutes.value) };
      try {
        const s = await api<CampaignStatus>('POST', '/campaigns', spec);
        location.hash = `#/campaigns/${s.campaign.id}`;
      } catch (err) {
        replace(error, err instanceof Error ? err.message : String(err));
      }
    },
  },
    ...row('Name', f.name), ...row('Image', f.image),
    ...row('Target: tags', f.tags), ...row('Target: hardware', f.hardware), ...row('Target: current versions', f.versions), ...row('Target: device ids', f.ids),
    h('span'), h('div', null, matching),
    ...row('Canary devices', f.canary), ...row('Waves (cumulative %)', f.percents), ...row('Wave success % to advance', f.success),
    ...row('Abort / pause when', f.abortType, h('span', null, ' over '), f.abortPct, h('span', null, '% after '), f.abortMin, h('span', null, ' finished → '), f.abortAction),
    ...row('Timeout per device (min)', f.timeout), ...row('Attempts per device', f.retries),
    ...row('Maintenance window', f.winStart, h('span', null, ' for '), f.winMinutes, h('span', null, ' min')),
    h('span'), h('div', null, h('button', { class: 'primary', type: 'submit', id: 'create-campaign' }, 'Create and start')),
  );
  replace(root, h('h1', null, 'New campaign'), form, error);
  void preview();
}

/**
 * The live campaign page: subscribes to the campaign's server-sent events and
 * re-reads the status on each (coalesced), so the page never needs a reload.
 */
export async function campaignPage(root: HTMLElement, id: number, me: Me): Promise<() => void> {
  const history: { t: number; done: number; failed: number; active: number }[] = [];
  const head = h('div');
  const body = h('div');
  const error = h('div', { class: 'error', id: 'command-error' });
  replace(root, head, error, body);
  let filter = 'all';

  const command = async (cmd: 'pause' | 'resume' | 'cancel') => {
    if (!(await confirmAction(`${cmd[0]!.toUpperCase()}${cmd.slice(1)} campaign #${id}?`))) return;
    replace(error);
    try {
      await api('POST', `/campaigns/${id}/${cmd}`);
    } catch (e) {
      replace(error, e instanceof Error ? `${cmd} refused: ${e.message}` : String(e));
    }
    void refresh();
  };

  const draw = async (s: CampaignStatus) => {
    const c = s.campaign;
    const live = c.state === 'running' || c.state === 'paused';
    const t = Date.now();
    history.push({ t, done: s.counts['succeeded'] ?? 0, failed: sum(s.counts, failedStates), active: s.total - sum(s.counts, finishedStates) - (s.counts['queued'] ?? 0) });
    const devices = await api<{ items: { deviceId: string; state: string; wave: number; attempt: number; updatedAt: number }[] }>(
      'GET', `/campaigns/${id}/devices?limit=200${filter === 'all' ? '' : `&state=${encodeURIComponent(filter)}`}`);
    replace(
      head,
      h('h1', null, `Campaign #${c.id} ${c.name}`),
      h('p', null, 'State: ', h('strong', { id: 'campaign-state', class: c.state === 'completed' ? 'ok' : c.state === 'aborted' ? 'bad' : '' }, c.state),
        c.stateReason !== null ? h('span', { class: 'muted' }, ` (${c.stateReason})`) : null,
        ` · image ${s.image.version} · ${s.total} devices · wave ${c.currentWave + 1} of ${s.waves.length}`),
      me.role === 'viewer' ? h('p', { class: 'muted', id: 'viewer-note' }, 'You are a viewer: you can watch this campaign but not change it.') : null,
      h('div', { class: 'toolbar' },
        h('button', { id: 'pause', disabled: c.state !== 'running', onclick: () => void command('pause') }, 'Pause'),
        h('button', { id: 'resume', disabled: c.state !== 'paused', onclick: () => void command('resume') }, 'Resume'),
        h('button', { id: 'cancel', class: 'danger', disabled: !live, onclick: () => void command('cancel') }, 'Cancel')),
    );
    replace(
      body,
      h('h2', null, 'Counts by state'),
      h('div', { id: 'counts' }, ...Object.entries(s.counts).map(([k, v]) =>
        h('a', { class: `pill ${k}`, href: '#', 'data-state': k, onclick: (e: Event) => { e.preventDefault(); filter = filter === k ? 'all' : k; void refresh(); } }, `${k}: ${v}`))),
      h('h2', null, 'Waves'),
      table(['Wave', 'Kind', 'Planned', 'Opened', 'Progress', 'Finished'], s.waves.map((w) => [
        w.idx + 1, w.kind, w.plannedSize, when(w.openedAt), campaignProgress(w.counts, w.plannedSize, { 'data-wave': String(w.idx) }),
        `${sum(w.counts, finishedStates)} / ${w.plannedSize}`,
      ]), { id: 'waves' }),
      h('h2', null, 'Over time'),
      lineChart([
        { name: 'succeeded', color: '#1e8e3e', points: history.map((p) => [p.t, p.done]) },
        { name: 'failed', color: '#c5221f', points: history.map((p) => [p.t, p.failed]) },
        { name: 'in progress', color: '#2356c7', points: history.map((p) => [p.t, p.active]) },
      ]),
      h('h2', null, `Devices${filter === 'all' ? '' : ` in state ${filter}`}`),
      table(['Device', 'State', 'Wave', 'Attempt', 'Updated'], devices.items.map((d) => [
        h('a', { href: `#/devices/${encodeURIComponent(d.deviceId)}` }, d.deviceId), h('span', { class: `pill ${d.state}` }, d.state), d.wave + 1, d.attempt, when(d.updatedAt),
      ]), { id: 'campaign-devices' }),
    );
  };

  let pending = false;
  let running = false;
  const refresh = async () => {
    if (running) { pending = true; return; }
    running = true;
    try {
      await draw(await api<CampaignStatus>('GET', `/campaigns/${id}`));
    } finally {
      running = false;
      if (pending) { pending = false; void refresh(); }
    }
  };
  await refresh();
  const es = new EventSource(`/api/v1/campaigns/${id}/events`);
  for (const type of ['snapshot', 'action', 'wave', 'campaign']) es.addEventListener(type, () => void refresh());
  es.onopen = () => document.body.setAttribute('data-sse', 'open');
  return () => es.close();
}
