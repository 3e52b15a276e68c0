import { createHash } from 'node:crypto';
import { mkdirSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Content-addressed storage for bundle bytes. */
export interface BlobStore {
  /** Stores bytes and returns their sha256 (hex); storing the same bytes twice is a no-op. */
  put(bytes: Uint8Array): string;
  /** The bytes for a hash, or undefined. */
  get(sha256: string): Uint8Array | undefined;
}

/** sha256 of bytes as lowercase hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Blobs on disk under `<dir>/<first two hex>/<hash>`. Written to a temp name
 * and renamed, so a crash never leaves a truncated file under a valid hash.
 */
export function fsBlobStore(dir: string): BlobStore {
  const pathOf = (h: string) => join(dir, h.slice(0, 2), h);
  return {
    put(bytes) {
      const h = sha256Hex(bytes);
      const p = pathOf(h);
      if (!existsSync(p)) {
        mkdirSync(join(dir, h.slice(0, 2)), { recursive: true });
        const tmp = `${p}.tmp-${process.pid}`;
        writeFileSync(tmp, bytes);
        renameSync(tmp, p);
      }
      return h;
    },
    get(h) {
      if (!/^[0-9a-f]{64}$/.test(h)) return undefined;
      const p = pathOf(h);
      return existsSync(p) ? new Uint8Array(readFileSync(p)) : undefined;
    },
  };
}

/** In-memory blob store for tests. */
export function memoryBlobStore(): BlobStore {
  const m = new Map<string, Uint8Array>();
  return {
    put(bytes) {
      const h = sha256Hex(bytes);
      m.set(h, bytes.slice());
      return h;
    },
    get: (h) => m.get(h),
  };
}
