/** The request facts a cross-site check needs. */
export interface OriginFacts {
  origin: string | undefined;
  secFetchSite: string | undefined;
  /** This server's own origin as the client addressed it, e.g. `http://127.0.0.1:8080`. */
  selfOrigin: string;
}

/**
 * Whether a state-changing request may come from where it says it came from.
 * Browsers send Sec-Fetch-Site and Origin on every cross-site POST, and a page
 * on another site can forge neither, so either one naming another site is
 * refused. Clients that send neither (the CLI, curl) are not browsers and
 * cannot be driven by a hostile page; they are judged by their credentials.
 */
export function sameSiteRequest(f: OriginFacts): boolean {
  if (f.secFetchSite !== undefined && f.secFetchSite !== 'same-origin' && f.secFetchSite !== 'none') return false;
  if (f.origin !== undefined && f.origin !== f.selfOrigin) return false;
  return true;
}
