import { ImageError } from './errors.ts';
import { parseRootDocument, updateTrustedRoot, type RootDocument } from './root.ts';
import { canonicalJson } from './shape.ts';

/**
 * Root delivery on the device (TUF client update step). The server sends the
 * root documents newer than the version the device last reported; the device
 * walks them from its trusted root one version at a time.
 *
 * Semantics, decided once here so device and docs agree:
 *  - Entries must be ascending and contiguous (each exactly previous + 1).
 *  - An entry older than the trusted version is a rollback (ROOT_ROLLBACK),
 *    never ignored: an honest server only sends newer versions.
 *  - An entry equal to the trusted version is skipped when its signed part is
 *    identical (the server may not yet have heard the device's new version
 *    after a power cut) and refused as ROOT_CONFLICT when it differs.
 *  - Each newer entry needs thresholds of both the previous and its own root
 *    keys (verifyRootRotation); as in TUF only the FINAL root must be
 *    unexpired, so a device that slept through rotations can still catch up.
 */

/** The result of walking an offered chain. */
export interface RootAdvance {
  /** The newest trusted root after the walk (the input root when nothing was newer). */
  root: RootDocument;
  /** True when `root` is newer than the trusted one: the caller must persist it before using it. */
  changed: boolean;
}

function sameSigned(a: RootDocument, b: RootDocument): boolean {
  return canonicalJson(a.signed) === canonicalJson(b.signed);
}

/** Parses root.json texts as carried in an offer; ROOT_INVALID for a malformed one. */
export function parseRootChain(texts: readonly string[]): RootDocument[] {
  return texts.map((t) => parseRootDocument(t));
}

/**
 * Walks `offered` from `trusted`; returns the newest root, or throws
 * ROOT_ROLLBACK, ROOT_CONFLICT, ROOT_ROTATION_INVALID or ROOT_EXPIRED and
 * leaves the caller on `trusted`.
 */
export function advanceTrustedRoot(trusted: RootDocument, offered: readonly RootDocument[], now: Date): RootAdvance {
  if (offered.length === 0) return { root: trusted, changed: false };
  const have = trusted.signed.version;
  const newer: RootDocument[] = [];
  let prev: number | null = null;
  for (const doc of offered) {
    const v = doc.signed.version;
    if (prev !== null && v !== prev + 1) {
      throw new ImageError('ROOT_ROTATION_INVALID', `offered roots are not contiguous: version ${v} after ${prev}`);
    }
    prev = v;
    if (v < have) throw new ImageError('ROOT_ROLLBACK', `offered root version ${v} is older than the trusted version ${have}`);
    if (v === have) {
      if (!sameSigned(doc, trusted)) throw new ImageError('ROOT_CONFLICT', `offered root version ${v} differs from the trusted root of the same version`);
      continue;
    }
    newer.push(doc);
  }
  // The final root must be unexpired even when nothing newer came: a chain
  // that ends at an expired trusted root gives the device nothing to trust.
  const root = updateTrustedRoot(trusted, newer, now);
  return { root, changed: newer.length > 0 };
}
