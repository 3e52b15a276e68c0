import type { AuditLog } from '../audit/audit-log.ts';
import type { ImagesRepo, ImageRecord } from '../db/images-repo.ts';
import { ServerError, ServerErrorCode } from '../errors.ts';
import { sha256Hex, type BlobStore } from './blob-store.ts';
import type { ImageVerifier } from './bundle-verifier.ts';

/** Upload and lookup of update images. */
export class ImageService {
  constructor(
    private readonly deps: { repo: ImagesRepo; blobs: BlobStore; verify: ImageVerifier; audit: AuditLog; clock: () => number },
  ) {}

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
