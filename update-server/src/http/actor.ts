import type { FastifyRequest } from 'fastify';

/**
 * Who the audit log names for an API call. There is no login yet (the console
 * issue adds it), so the caller states a name; it is recorded, not trusted.
 */
export function actorOf(req: FastifyRequest): string {
  const h = req.headers['x-uniota-actor'];
  const name = typeof h === 'string' ? h.trim().slice(0, 100) : '';
  return name === '' ? `api@${req.ip}` : `${name}@${req.ip}`;
}
