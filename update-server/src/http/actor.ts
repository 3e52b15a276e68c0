import type { FastifyRequest } from 'fastify';

/**
 * Who the audit log names for an API call: the signed-in user or the API
 * token the guard authenticated (never a name the caller merely claims),
 * with the client address.
 */
export function actorOf(req: FastifyRequest): string {
  const name = req.principal?.name ?? 'anonymous';
  return `${name}@${req.ip}`;
}
