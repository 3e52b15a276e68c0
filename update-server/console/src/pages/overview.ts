import { api } from '../api.ts';
import { barChart } from '../charts.ts';
import { h, replace, table, when } from '../dom.ts';
import { campaignProgress } from './campaigns.ts';
import type { CampaignStatus } from '../types.ts';

interface Summary {
  total: number; online: number;
  versions: { version: string | null; count: number }[];
  hardware: { hardware: string; count: number }[];
  attention: { deviceId: string; campaignId: number; state: string; failureKind: string | null; detail: string | null; updatedAt: number }[];
  recentCampaigns: CampaignStatus[];
}

/** Fleet overview: online/offline, versions in the field, devices needing attention, recent campaigns. */
export async function overviewPage(root: HTMLElement): Promise<void> {
  const s = await api<Summary>('GET', '/fleet/summary');
  const card = (n: number, l: string, cls = '') => h('div', { class: 'card' }, h('div', { class: `n ${cls}` }, n), h('div', { class: 'l' }, l));
  replace(
    root,
    h('h1', null, 'Fleet overview'),
    h('div', { class: 'cards', id: 'fleet-cards' }, card(s.total, 'devices'), card(s.online, 'online', 'ok'), card(s.total - s.online, 'offline', 'muted')),
    h('h2', null, 'Versions in the field'),
    barChart(s.versions.map((v) => ({ label: v.version ?? 'unknown', value: v.count }))),
    h('h2', null, 'Needs attention'),
    s.attention.length === 0
      ? h('p', { class: 'muted' }, 'No device failed, rolled back or timed out.')
      : table(['Device', 'Campaign', 'State', 'Failure', 'Detail', 'When'], s.attention.map((a) => [
          h('a', { href: `#/devices/${encodeURIComponent(a.deviceId)}` }, a.deviceId),
          h('a', { href: `#/campaigns/${a.campaignId}` }, `#${a.campaignId}`),
          h('span', { class: 'bad' }, a.state), a.failureKind ?? '', a.detail ?? '', when(a.updatedAt),
        ]), { id: 'attention' }),
    h('h2', null, 'Recent campaigns'),
    s.recentCampaigns.length === 0
      ? h('p', { class: 'muted' }, 'No campaigns yet.')
      : table(['Campaign', 'Image', 'State', 'Progress'], s.recentCampaigns.map((c) => [
          h('a', { href: `#/campaigns/${c.campaign.id}` }, `#${c.campaign.id} ${c.campaign.name}`), c.image.version, c.campaign.state, campaignProgress(c.counts, c.total),
        ])),
  );
}
