import type { Db } from './open.ts';
import { statement } from './statements.ts';

/** A verified, stored update bundle. */
export interface ImageRecord {
  id: string;
  version: string;
  compatible: string[];
  size: number;
  manifest: unknown;
  devSigned: boolean;
  uploadedAt: number;
}

interface Row { id: string; version: string; compatible: string; size: number; manifest: string; dev_signed: number; uploaded_at: number }

function toImage(r: Row): ImageRecord {
  return {
    id: r.id, version: r.version, compatible: JSON.parse(r.compatible) as string[], size: r.size,
    manifest: JSON.parse(r.manifest) as unknown, devSigned: r.dev_signed === 1, uploadedAt: r.uploaded_at,
  };
}

/** Image table access (metadata only; bytes live in the blob store). */
export class ImagesRepo {
  constructor(private readonly db: Db) {}

  /** Records an image; false when the same content was already there. */
  insert(img: ImageRecord): boolean {
    const res = statement(
      this.db,
      `INSERT OR IGNORE INTO images (id, version, compatible, size, manifest, dev_signed, uploaded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
      .run(img.id, img.version, JSON.stringify(img.compatible), img.size, JSON.stringify(img.manifest), img.devSigned ? 1 : 0, img.uploadedAt);
    return res.changes === 1;
  }

  /** One image, or undefined. */
  get(id: string): ImageRecord | undefined {
    const r = statement(this.db, 'SELECT * FROM images WHERE id = ?').get(id) as Row | undefined;
    return r === undefined ? undefined : toImage(r);
  }

  /** All images, newest first. */
  list(): ImageRecord[] {
    return (statement(this.db, 'SELECT * FROM images ORDER BY uploaded_at DESC, id').all() as Row[]).map(toImage);
  }
}
