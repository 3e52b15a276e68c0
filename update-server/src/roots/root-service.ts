/**
 * The server's trust root chain. The configured root.json is version N; each
 * rotation an operator uploads must be exactly the next version and verify
 * against the current root (thresholds of both the old and the new root
 * keys), so the server never stores a chain a device would refuse. Offers
 * then carry the versions newer than the one each device last reported.
 */
import { MAX_OFFER_ROOTS, MAX_ROOT_TEXT } from '@uniota/protocol';
import { ImageError, parseRootDocument, verifyRootRotation, type RootDocument } from '@uniota/image';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Db } from '../db/open.ts';
import { ServerError, ServerErrorCode } from '../errors.ts';
import { RootsRepo } from './roots-repo.ts';

/** A root version as the API lists it. */
export interface RootSummary {
  version: number;
  expiresAt: string;
  /** 'config' for the root.json the server started with, else who uploaded it. */
  source: string;
  uploadedAt: number | null;
  /** Devices whose last report named this version. */
  devices: number;
}

/** What the device gateway needs for root delivery (RootService implements it). */
export interface RootDelivery {
  /** root.json texts to put in an offer to `deviceId`, or undefined for none. */
  rootsFor(deviceId: string): string[] | undefined;
  /** A device reported its root version (hello or status). */
  noteDeviceRoot(deviceId: string, version: number): void;
}

/** Trust root chain: current root, uploads, and the roots an offer to a device carries. */
export class RootService implements RootDelivery {
  readonly repo: RootsRepo;
  /** Device root versions seen this run: reports repeat the same version, so the database is written only on change. */
  readonly #seen = new Map<string, number>();

  constructor(
    private readonly o: { db: Db; configured: RootDocument; audit: AuditLog; clock: () => number },
  ) {
    this.repo = new RootsRepo(o.db);
  }

  /** The newest trusted root: the last uploaded rotation, or the configured root.json when that is as new. */
  current(): RootDocument {
    const stored = this.repo.latest();
    if (stored === undefined || stored.version <= this.o.configured.signed.version) return this.o.configured;
    return parseRootDocument(stored.document);
  }

  /** Accepts root.json text as the next version (verified against the current root), stores and audits it. */
  upload(text: string, actor: string): RootSummary {
    let next: RootDocument;
    try {
      next = parseRootDocument(text);
      verifyRootRotation(this.current(), next, new Date(this.o.clock()));
    } catch (err) {
      const code = err instanceof ImageError ? err.code : 'UNKNOWN';
      const message = err instanceof Error ? err.message : String(err);
      // A refused rotation is a security event (forged or stale root): audited like a refused image.
      this.o.audit.append(actor, 'root.reject', 'root', { code, reason: message });
      throw new ServerError(ServerErrorCode.RootRejected, `root rejected (${code}): ${message}`, { cause: err });
    }
    const document = JSON.stringify(next);
    if (document.length > MAX_ROOT_TEXT) {
      // An offer could not carry it: devices would never receive this rotation.
      throw new ServerError(ServerErrorCode.RootRejected, `root document of ${document.length} characters exceeds the ${MAX_ROOT_TEXT} an offer carries`);
    }
    const at = this.o.clock();
    const version = next.signed.version;
    this.o.db.transaction(() => {
      // Stored compact: it is sent verbatim inside offers, where bytes count.
      if (!this.repo.insert({ version, document, uploadedBy: actor, uploadedAt: at })) {
        throw new ServerError(ServerErrorCode.RootRejected, `root version ${version} is already stored`);
      }
      this.o.audit.append(actor, 'root.rotate', `root:${version}`, { version, expiresAt: next.signed.expiresAt, rootKeys: next.signed.roles.root.keyids, imagesKeys: next.signed.roles.images.keyids, serverKeys: next.signed.roles.server.keyids });
    })();
    return this.list().find((r) => r.version === version) as RootSummary;
  }

  /** Every version from the configured root up, ascending. */
  list(): RootSummary[] {
    const counts = new Map(this.repo.deviceCounts().map((c) => [c.version, c.devices]));
    const cfg = this.o.configured.signed;
    const out: RootSummary[] = [{ version: cfg.version, expiresAt: cfg.expiresAt, source: 'config', uploadedAt: null, devices: counts.get(cfg.version) ?? 0 }];
    for (const r of this.repo.list()) {
      if (r.version <= cfg.version) continue;
      out.push({ version: r.version, expiresAt: parseRootDocument(r.document).signed.expiresAt, source: r.uploadedBy, uploadedAt: r.uploadedAt, devices: counts.get(r.version) ?? 0 });
    }
    return out;
  }

  /**
   * root.json texts an offer to `deviceId` carries: the versions after the one
   * it last reported (at most MAX_OFFER_ROOTS). Undefined for a device that
   * never reported a version: an older agent refuses offers with unknown fields.
   */
  rootsFor(deviceId: string): string[] | undefined {
    const have = this.#seen.get(deviceId) ?? this.repo.deviceVersion(deviceId);
    if (have === undefined) return undefined;
    const texts = this.repo.after(have, MAX_OFFER_ROOTS).map((r) => r.document);
    return texts.length === 0 ? undefined : texts;
  }

  /** Records the root version a device reported (hello or status). */
  noteDeviceRoot(deviceId: string, version: number): void {
    if (this.#seen.get(deviceId) === version) return;
    this.#seen.set(deviceId, version);
    this.repo.setDeviceVersion(deviceId, version, this.o.clock());
  }
}
