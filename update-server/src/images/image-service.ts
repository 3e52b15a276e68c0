import { createBundle, type Signer } from '@uniota/image';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ImagesRepo, ImageRecord } from '../db/images-repo.ts';
import { ServerError, ServerErrorCode } from '../errors.ts';
import { sha256Hex, type BlobStore } from './blob-store.ts';
import type { ImageVerifier } from './bundle-verifier.ts';

/** Upload and lookup of update images. */
export class ImageService {
  constructor(
    private readonly deps: {
      repo: ImagesRepo; blobs: BlobStore; verify: ImageVerifier; audit: AuditLog; clock: () => number;
      /** DEVELOPMENT ONLY: a server-held images key. Absent in production. */
      devSigner?: Signer;
    },
  ) {}

  /** True when the server holds a development signing key. */
  get devSigningEnabled(): boolean {
    return this.deps.devSigner !== undefined;
  }

  /**
   * DEVELOPMENT ONLY: signs a raw payload with the server-held key, then
   * uploads it through the normal verification path (so the key must still be
   * in the trust root's images role). The image is stored as devSigned and
   * listed that way. In production images are signed offline: a server that
   * can sign can ship code if it is compromised.
   */
  devSign(
    payload: Uint8Array,
    input: { product: string; version: string; compatibleHardware: string[]; securityCounter: number; expiresInDays: number },
    actor: string,
  ): ImageRecord {
    const signer = this.deps.devSigner;
    if (signer === undefined) throw new ServerError(ServerErrorCode.NotFound, 'development signing is not enabled on this server');
    const now = this.deps.clock();
    let bundle: Uint8Array;
    try {
      bundle = createBundle(
        { ...input, createdAt: new Date(now), expiresAt: new Date(now + input.expiresInDays * 86_400_000) },
        payload,
        [signer],
      );
    } catch (err) {
      throw new ServerError(ServerErrorCode.BadRequest, `cannot build a bundle: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.deps.audit.append(actor, 'image.dev_sign', `payload:${sha256Hex(payload)}`, { version: input.version, keyid: signer.keyid });
    return this.upload(bundle, actor, { devSigned: true });
  }

  /**
   * Verifies and stores a bundle. Nothing is written before verification
   * passes, so a rejected upload leaves no trace but its audit entry.
   */
  upload(bundle: Uint8Array, actor: string, opts: { devSigned?: boolean } = {}): ImageRecord {
    const id = sha256Hex(bundle);
    const existing = this.deps.repo.get(id);
    if (existing !== undefined) throw new ServerError(ServerErrorCode.ImageExists, `image ${id} was already uploaded`);
    let verified;
    try {
      verified = this.deps.verify(bundle);
    } catch (err) {
      const code = err instanceof ServerError ? err.code : ServerErrorCode.ImageRejected;
      this.deps.audit.append(actor, 'image.reject', `image:${id}`, { size: bundle.byteLength, reason: err instanceof Error ? err.message : String(err) });
      if (err instanceof ServerError) throw err;
      throw new ServerError(code, `bundle rejected: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.deps.blobs.put(bundle);
    const rec: ImageRecord = {
      id, version: verified.version, compatible: verified.compatible, size: bundle.byteLength,
      manifest: verified.manifest, devSigned: opts.devSigned === true, uploadedAt: this.deps.clock(),
    };
    this.deps.repo.insert(rec);
    this.deps.audit.append(actor, 'image.upload', `image:${id}`, { version: rec.version, compatible: rec.compatible, size: rec.size, devSigned: rec.devSigned });
    return rec;
  }

  /** One image or SERVER_NOT_FOUND. */
  get(id: string): ImageRecord {
    const img = this.deps.repo.get(id);
    if (img === undefined) throw new ServerError(ServerErrorCode.NotFound, `image ${id} not found`);
    return img;
  }

  /** All images, newest first. */
  list(): ImageRecord[] {
    return this.deps.repo.list();
  }

  /** The stored bundle bytes (for the download path the gateway serves). */
  bytes(id: string): Uint8Array {
    const b = this.deps.blobs.get(id);
    if (b === undefined) throw new ServerError(ServerErrorCode.NotFound, `image ${id} has no stored bundle`);
    return b;
  }
}
