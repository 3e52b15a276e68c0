/** Operator roles, weakest first. Stored as strings; never renamed. */
export const roles = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof roles)[number];

/** Who may call a route: anyone, or a signed-in principal with at least this role. */
export type Access = 'public' | Role;

/** Whether `have` grants everything `need` does (admin ⊇ operator ⊇ viewer). */
export function roleAtLeast(have: Role, need: Role): boolean {
  return roles.indexOf(have) >= roles.indexOf(need);
}

/** Narrows a string to a Role. */
export function isRole(s: string): s is Role {
  return (roles as readonly string[]).includes(s);
}

/**
 * The access rule of every route, checked server-side on each request (the
 * console hiding a button is not a check). Keyed by `METHOD url-pattern` as
 * fastify registers it. A route missing from this table falls back to
 * `fallbackAccess`: reading needs a viewer, changing needs an admin, so a new
 * route is never accidentally open. A route may also state its own access in
 * `config.access`, which wins over the table.
 */
export const accessTable: Readonly<Record<string, Access>> = {
  'GET /healthz': 'public',
  'POST /api/v1/auth/login': 'public',
  'POST /api/v1/auth/setup': 'public',
  'GET /api/v1/auth/setup': 'public',
  'POST /api/v1/auth/logout': 'viewer',
  'GET /api/v1/auth/me': 'viewer',
  'GET /metrics': 'viewer',
  'GET /docs/json': 'viewer',
  'GET /api/v1/devices': 'viewer',
  'GET /api/v1/devices/:id': 'viewer',
  'GET /api/v1/devices/:id/admission': 'viewer',
  // Deciding which machines may join the fleet is an operator's job.
  'POST /api/v1/devices/:id/admission': 'operator',
  'GET /api/v1/fleet/summary': 'viewer',
  'GET /api/v1/images': 'viewer',
  'GET /api/v1/images/:id': 'viewer',
  'GET /api/v1/images/:id/manifest': 'viewer',
  'GET /api/v1/images/:id/signers': 'viewer',
  'GET /api/v1/campaigns/:id/devices': 'viewer',
  'POST /api/v1/images': 'operator',
  'POST /api/v1/images/dev-sign': 'operator',
  'GET /api/v1/campaigns': 'viewer',
  'GET /api/v1/campaigns/:id': 'viewer',
  'GET /api/v1/campaigns/:id/events': 'viewer',
  'POST /api/v1/campaigns': 'operator',
  'POST /api/v1/campaigns/preview': 'operator',
  'POST /api/v1/campaigns/:id/pause': 'operator',
  'POST /api/v1/campaigns/:id/resume': 'operator',
  'POST /api/v1/campaigns/:id/cancel': 'operator',
  'GET /api/v1/roots': 'viewer',
  // Rotating the trust root changes which keys every device trusts: admins only.
  'POST /api/v1/roots': 'admin',
  'GET /api/v1/audit': 'viewer',
  'GET /api/v1/audit/verify': 'viewer',
  'GET /api/v1/users': 'admin',
  'POST /api/v1/users': 'admin',
  'POST /api/v1/users/:id/disable': 'admin',
  'GET /api/v1/tokens': 'admin',
  'POST /api/v1/tokens': 'admin',
  'POST /api/v1/tokens/:id/revoke': 'admin',
};

/** Access for a route the table does not name (fail closed for changes). */
export function fallbackAccess(method: string): Access {
  return method === 'GET' || method === 'HEAD' ? 'viewer' : 'admin';
}

/** Access for one route: its own config, else the table, else the fallback. */
export function accessFor(method: string, url: string, own?: Access): Access {
  return own ?? accessTable[`${method} ${url}`] ?? fallbackAccess(method);
}
