import type { CampaignSpec } from './spec.ts';

/**
 * True when `now` falls inside the daily UTC window (or no window is set).
 * Windows may wrap past midnight (22:00 for 240 minutes ends at 02:00).
 */
export function inMaintenanceWindow(window: CampaignSpec['maintenanceWindow'], now: number): boolean {
  if (window === undefined) return true;
  const [h, m] = window.start.split(':').map(Number) as [number, number];
  const startMin = h * 60 + m;
  const d = new Date(now);
  const nowMin = d.getUTCHours() * 60 + d.getUTCMinutes();
  const since = (nowMin - startMin + 1440) % 1440;
  return since < window.durationMinutes;
}
