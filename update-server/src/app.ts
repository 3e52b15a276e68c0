import type { RootDocument, Signer } from '@uniota/image';
import type { AdmissionPolicy } from './admission/transitions.ts';
import type { Db } from './db/open.ts';
import { CampaignEngine, type TickResult } from './campaign/engine.ts';
import type { DeviceGateway } from './campaign/gateway.ts';
import { EventBus } from './event-bus.ts';
import { createMetrics, type ServerMetrics } from './metrics.ts';
import type { BlobStore } from './images/blob-store.ts';
import type { ImageVerifier } from './images/bundle-verifier.ts';
import { ImageService } from './images/image-service.ts';
import { RootService } from './roots/root-service.ts';

/** Everything the HTTP layer and the gateway talk to, wired once. */
export interface ServerApp {
  db: Db;
  engine: CampaignEngine;
  images: ImageService;
  /** The trust root chain (rotations, delivery to devices); null when the server was built without a root. */
  roots: RootService | null;
  bus: EventBus;
  metrics: ServerMetrics;
  clock: () => number;
  /** One engine pass with its results counted in the metrics. */
  tick(): Promise<TickResult>;
}

/** Dependencies of the server core (all injected; nothing here opens files or sockets). */
export interface ServerAppOptions {
  db: Db;
  gateway: DeviceGateway;
  blobs: BlobStore;
  verifyImage: ImageVerifier;
  clock?: () => number;
  /** DEVELOPMENT ONLY: lets the server sign uploaded payloads (labelled devSigned everywhere). */
  devSigner?: Signer;
  /** Device admission policy; default `open`. */
  admission?: AdmissionPolicy;
  /** The configured root.json: enables root rotation (POST /roots) and root delivery in offers. */
  trustRoot?: RootDocument;
}

/** Wires engine, image service, event bus and metrics over one database. */
export function createServerApp(opts: ServerAppOptions): ServerApp {
  const clock = opts.clock ?? Date.now;
  const bus = new EventBus();
  const metrics = createMetrics(opts.db);
  const engine = new CampaignEngine({
    db: opts.db,
    gateway: opts.gateway,
    clock,
    onEvents: (ids) => bus.publish(ids),
    onIngest: (outcomes) => {
      for (const o of outcomes) metrics.reports.inc({ outcome: o });
    },
    ...(opts.admission !== undefined ? { admission: opts.admission } : {}),
  });
  const images = new ImageService({
    repo: engine.images, blobs: opts.blobs, verify: opts.verifyImage, audit: engine.audit, clock,
    ...(opts.devSigner !== undefined ? { devSigner: opts.devSigner } : {}),
  });
  const roots = opts.trustRoot === undefined ? null : new RootService({ db: opts.db, configured: opts.trustRoot, audit: engine.audit, clock });
  return {
    db: opts.db, engine, images, roots, bus, metrics, clock,
    async tick() {
      const r = await engine.tick();
      if (r.offersSent + r.cancelsSent > 0) metrics.sends.inc({ result: 'ok' }, r.offersSent + r.cancelsSent);
      if (r.sendFailures > 0) metrics.sends.inc({ result: 'error' }, r.sendFailures);
      return r;
    },
  };
}
