// Public surface of @uniota/update-server. The engine is transport-free: a
// DeviceGateway delivers offers and feeds reports back through the engine.
export { ServerError, ServerErrorCode, httpStatusForCode } from './errors.ts';
export { loadConfig, configEnv, ServerConfigSchema, type ServerConfig } from './config.ts';
export { openDb, type Db, type OpenDbOptions } from './db/open.ts';
export { migrate, migrations, type Migration } from './db/migrations.ts';
export type { Device, DeviceHello } from './db/devices-repo.ts';
export type { ImageRecord } from './db/images-repo.ts';
export type { Campaign, Wave } from './db/campaigns-repo.ts';
export type { Action } from './db/actions-repo.ts';
export type { FleetEvent } from './db/events-repo.ts';
export { CampaignEngine, type CampaignEngineOptions, type CampaignStatus, type IngestOutcome, type TickResult } from './campaign/engine.ts';
export type { DeviceGateway, DeviceReport, UpdateOffer, CancelCommand } from './campaign/gateway.ts';
export { CampaignSpecSchema, type CampaignSpec, type AbortCriterion, type Target } from './campaign/spec.ts';
export { parseCampaignSpec } from './campaign/parse-spec.ts';
export { ActionState, CampaignState, ReportStep, FailureKind } from './campaign/states.ts';
export { AuditLog, verifyAuditChain, type AuditEntry, type AuditVerification } from './audit/audit-log.ts';
export { fsBlobStore, memoryBlobStore, sha256Hex, type BlobStore } from './images/blob-store.ts';
export { rootBundleVerifier, type ImageVerifier, type VerifiedImage } from './images/bundle-verifier.ts';
export { createServerApp, type ServerApp, type ServerAppOptions } from './app.ts';
export { build, listen, type BuildOptions } from './http/build.ts';
export { startServer, type RunningServer } from './server.ts';
export { noTransportGateway } from './no-transport-gateway.ts';
export { SERVER_RECEIVE_MAXIMUM } from './gateway/mqtt-gateway.ts';
export { ApiClient, type ApiClientOptions } from './client.ts';
export { AuthService, newSetupToken, type AuthOptions } from './auth/auth-service.ts';
export { roles, isRole, accessTable, type Role, type Access } from './auth/roles.ts';
export type { User } from './auth/users-repo.ts';
export type { ApiToken } from './auth/token-store.ts';
