import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './password.ts';
import { readCookie, sessionCookie } from './cookies.ts';
import { sameSiteRequest } from './cross-site.ts';
import { accessFor, roleAtLeast } from './roles.ts';

const cheap = { N: 1024, r: 8, p: 1 };

describe('password hashing', () => {
  it('verifies the right password only, with a fresh salt per hash', async () => {
    const a = await hashPassword('a long passphrase', cheap);
    const b = await hashPassword('a long passphrase', cheap);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('a long passphrase', a)).toBe(true);
    expect(await verifyPassword('a long passphrasf', a)).toBe(false);
    expect(await verifyPassword('x', 'md5$abc')).toBe(false);
  });
});

describe('session cookie', () => {
  it('is __Host- prefixed and Secure over TLS, unprefixed on plain http', () => {
    expect(sessionCookie(true, 'v')).toBe('__Host-uniota_session=v; Path=/; HttpOnly; SameSite=Strict; Secure');
    expect(sessionCookie(false, 'v', 0)).toBe('uniota_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=0');
    expect(readCookie('a=1; uniota_session=xyz; b=2', 'uniota_session')).toBe('xyz');
    expect(readCookie(undefined, 'uniota_session')).toBeUndefined();
  });
});

describe('cross-site decision table', () => {
  const self = 'http://127.0.0.1:8080';
  it.each([
    [undefined, undefined, true, 'CLI / curl (not a browser)'],
    [self, 'same-origin', true, 'the console itself'],
    [undefined, 'none', true, 'typed into the address bar'],
    ['https://evil.example', 'cross-site', false, 'another site'],
    [self, 'same-site', false, 'a sibling subdomain'],
    ['http://127.0.0.1:9999', undefined, false, 'another port is another origin'],
    ['null', undefined, false, 'sandboxed frame'],
  ] as [string | undefined, string | undefined, boolean, string][])('origin %s, sec-fetch-site %s -> %s (%s)', (origin, site, ok) => {
    expect(sameSiteRequest({ origin, secFetchSite: site, selfOrigin: self })).toBe(ok);
  });
});

describe('roles', () => {
  it.each([
    ['admin', 'operator', true], ['operator', 'operator', true], ['viewer', 'operator', false], ['operator', 'admin', false],
  ] as const)('%s covers %s: %s', (have, need, ok) => expect(roleAtLeast(have, need)).toBe(ok));
  it('routes missing from the table need a viewer to read and an admin to change', () => {
    expect(accessFor('GET', '/api/v1/new-thing')).toBe('viewer');
    expect(accessFor('POST', '/api/v1/new-thing')).toBe('admin');
    expect(accessFor('POST', '/api/v1/new-thing', 'operator')).toBe('operator');
    expect(accessFor('POST', '/api/v1/campaigns')).toBe('operator');
  });
});
