import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('uses defaults from the one schema', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ dataDir: './uniota-data', port: 8080, tickMs: 1000, logLevel: 'info' });
    expect(c.trustRootPath).toBe('uniota-data/root.json');
    expect(c.dbPath).toBe('uniota-data/server.db');
  });

  it('lets env vars override defaults and explicit options override env', () => {
    const c = loadConfig({ UNIOTA_DATA_DIR: '/srv/u', UNIOTA_PORT: '9000', UNIOTA_BROKER_URL: 'mqtt://b:1883' }, { port: 9100 });
    expect(c).toMatchObject({ dataDir: '/srv/u', port: 9100, brokerUrl: 'mqtt://b:1883', trustRootPath: '/srv/u/root.json' });
  });

  it('names the env var of an invalid setting', () => {
    expect(() => loadConfig({ UNIOTA_PORT: 'http' })).toThrow(/UNIOTA_PORT/);
    expect(() => loadConfig({ UNIOTA_LOG_LEVEL: 'loud' })).toThrow(expect.objectContaining({ code: 'SERVER_CONFIG_INVALID' }));
  });

  it('takes the HTTPS certificate and key from the environment, and refuses one without the other', () => {
    const c = loadConfig({ UNIOTA_HTTPS_CERT: '/etc/uniota/api.pem', UNIOTA_HTTPS_KEY: '/etc/uniota/api.key' });
    expect(c).toMatchObject({ httpsCertPath: '/etc/uniota/api.pem', httpsKeyPath: '/etc/uniota/api.key' });
    expect(loadConfig({}).httpsCertPath).toBeUndefined();
    expect(() => loadConfig({ UNIOTA_HTTPS_CERT: '/etc/uniota/api.pem' })).toThrow(/UNIOTA_HTTPS_KEY/);
    expect(() => loadConfig({}, { httpsKeyPath: '/k' })).toThrow(expect.objectContaining({ code: 'SERVER_CONFIG_INVALID' }));
  });
});
