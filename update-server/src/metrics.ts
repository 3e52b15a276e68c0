import { Counter, Gauge, Registry } from 'prom-client';
import type { Db } from './db/open.ts';

/** Prometheus metrics of one server instance (own registry, so tests and instances never share counters). */
export interface ServerMetrics {
  registry: Registry;
  reports: Counter<'outcome'>;
  sends: Counter<'result'>;
}

/** Creates the registry; gauges read SQLite at scrape time, so they are never stale after a restart. */
export function createMetrics(db: Db): ServerMetrics {
  const registry = new Registry();
  const reports = new Counter({
    name: 'uniota_reports_total', help: 'device reports ingested, by outcome', labelNames: ['outcome'] as const, registers: [registry],
  });
  const sends = new Counter({
    name: 'uniota_gateway_sends_total', help: 'offers and cancels handed to the gateway', labelNames: ['result'] as const, registers: [registry],
  });
  new Gauge({
    name: 'uniota_actions', help: 'per-device actions by state', labelNames: ['state'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const r of db.prepare('SELECT state, COUNT(*) AS n FROM actions GROUP BY state').all() as { state: string; n: number }[]) {
        this.set({ state: r.state }, r.n);
      }
    },
  });
  new Gauge({
    name: 'uniota_campaigns', help: 'campaigns by state', labelNames: ['state'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const r of db.prepare('SELECT state, COUNT(*) AS n FROM campaigns GROUP BY state').all() as { state: string; n: number }[]) {
        this.set({ state: r.state }, r.n);
      }
    },
  });
  new Gauge({
    name: 'uniota_devices', help: 'known devices by connection', labelNames: ['online'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const r of db.prepare('SELECT online, COUNT(*) AS n FROM devices GROUP BY online').all() as { online: number; n: number }[]) {
        this.set({ online: r.online === 1 ? 'true' : 'false' }, r.n);
      }
    },
  });
  return { registry, reports, sends };
}
