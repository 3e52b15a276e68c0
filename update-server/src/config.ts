import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ServerError, ServerErrorCode } from './errors.ts';

/** Every server setting, with its default, in one schema. */
export const ServerConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './uniota-data', description: 'SQLite database and bundle store' }),
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    brokerUrl: Type.String({ default: '', description: 'MQTT broker URL; empty: start the embedded broker' }),
    embeddedBrokerPort: Type.Integer({ minimum: 0, maximum: 65535, default: 1883, description: 'port of the embedded broker (0: any free port)' }),
    serverKeyPath: Type.Optional(Type.String({ description: 'PEM private key of the root server role (signs device commands); default <dataDir>/server.key' })),
    transferMode: Type.Union([Type.Literal('fanout'), Type.Literal('unicast')], { default: 'fanout', description: 'how image chunks reach devices' }),
    trustRootPath: Type.Optional(Type.String({ description: 'root.json; default <dataDir>/root.json' })),
    devSigningKeyPath: Type.Optional(
      Type.String({ description: 'DEVELOPMENT ONLY: PEM private key (in the root images role) the server signs payloads with' }),
    ),
    tickMs: Type.Integer({ minimum: 10, default: 1000, description: 'campaign engine period' }),
    maxBundleBytes: Type.Integer({ minimum: 1, default: 512 * 1024 * 1024 }),
    brokerTlsDir: Type.Optional(
      Type.String({
        description:
          'MQTT over TLS with client certificates: broker-ca.pem + uniota-server.pem/.key (the server connects with them); with no brokerUrl also devices-ca.pem, broker.pem/.key and crl.pem for the embedded broker',
      }),
    ),
    httpsCertPath: Type.Optional(
      Type.String({ minLength: 1, description: 'PEM certificate (chain) of the HTTPS API and console; with httpsKeyPath the server speaks only HTTPS (TLS 1.2+)' }),
    ),
    httpsKeyPath: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key of httpsCertPath' })),
    admission: Type.Union([Type.Literal('open'), Type.Literal('required')], {
      default: 'open',
      description: 'required: new devices stay pending until accepted or pre-authorized (production); open: accepted at first hello',
    }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
  },
  { additionalProperties: false },
);
export type ServerConfig = Static<typeof ServerConfigSchema> & { trustRootPath: string; serverKeyPath: string; dbPath: string; blobDir: string };

/** Environment variable for each setting (strings are converted by the schema). */
export const configEnv: Readonly<Record<keyof Static<typeof ServerConfigSchema>, string>> = {
  dataDir: 'UNIOTA_DATA_DIR',
  host: 'UNIOTA_HOST',
  port: 'UNIOTA_PORT',
  brokerUrl: 'UNIOTA_BROKER_URL',
  embeddedBrokerPort: 'UNIOTA_EMBEDDED_BROKER_PORT',
  serverKeyPath: 'UNIOTA_SERVER_KEY',
  transferMode: 'UNIOTA_TRANSFER_MODE',
  trustRootPath: 'UNIOTA_TRUST_ROOT',
  devSigningKeyPath: 'UNIOTA_DEV_SIGNING_KEY',
  tickMs: 'UNIOTA_TICK_MS',
  maxBundleBytes: 'UNIOTA_MAX_BUNDLE_BYTES',
  admission: 'UNIOTA_ADMISSION',
  brokerTlsDir: 'UNIOTA_BROKER_TLS_DIR',
  httpsCertPath: 'UNIOTA_HTTPS_CERT',
  httpsKeyPath: 'UNIOTA_HTTPS_KEY',
  logLevel: 'UNIOTA_LOG_LEVEL',
};

/** Resolves the configuration: defaults < environment < explicit overrides. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: Partial<Static<typeof ServerConfigSchema>> = {},
): ServerConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(configEnv)) {
    const v = env[name];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  Object.assign(raw, Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)));
  const value = Value.Default(ServerConfigSchema, Value.Convert(ServerConfigSchema, raw));
  if (!Value.Check(ServerConfigSchema, value)) {
    const e = Value.Errors(ServerConfigSchema, value).First();
    const key = e?.path.slice(1) ?? '';
    const envName = configEnv[key as keyof typeof configEnv];
    throw new ServerError(ServerErrorCode.Config, `invalid setting ${key}${envName ? ` (${envName})` : ''}: ${e?.message ?? 'invalid'}`);
  }
  // Half a TLS setup must not quietly fall back to plain HTTP.
  if ((value.httpsCertPath === undefined) !== (value.httpsKeyPath === undefined)) {
    throw new ServerError(
      ServerErrorCode.Config,
      `HTTPS needs both a certificate and its key: set ${configEnv.httpsCertPath} and ${configEnv.httpsKeyPath} together`,
    );
  }
  return {
    ...value,
    trustRootPath: value.trustRootPath ?? join(value.dataDir, 'root.json'),
    serverKeyPath: value.serverKeyPath ?? join(value.dataDir, 'server.key'),
    dbPath: join(value.dataDir, 'server.db'),
    blobDir: join(value.dataDir, 'blobs'),
  };
}
