/** Reads one cookie from a Cookie header (first occurrence wins). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/**
 * The session cookie's name and attributes. Over TLS it is `__Host-` prefixed
 * and Secure, so the browser pins it to this exact origin. Browsers refuse
 * `__Host-` and Secure cookies on plain http (localhost included), so there
 * the name is unprefixed; HttpOnly, SameSite=Strict and Path=/ hold either way.
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? '__Host-uniota_session' : 'uniota_session';
}

/** A Set-Cookie value for the session (maxAgeSeconds 0 deletes it). */
export function sessionCookie(secure: boolean, value: string, maxAgeSeconds?: number): string {
  const attrs = [`${sessionCookieName(secure)}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (secure) attrs.push('Secure');
  if (maxAgeSeconds !== undefined) attrs.push(`Max-Age=${maxAgeSeconds}`);
  return attrs.join('; ');
}
