import type { FastifyError, FastifyInstance } from 'fastify';
import { ServerError, ServerErrorCode, httpStatusForCode } from '../errors.ts';

/**
 * One place that turns failures into `{ error: { code, message } }`: our own
 * codes keep their status; fastify's validation and parsing errors become
 * SERVER_BAD_REQUEST so clients switch on one set of codes.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ServerError | Error, req, reply) => {
    if (err instanceof ServerError) {
      const status = httpStatusForCode[err.code] ?? 500;
      if (status >= 500) req.log.error({ err }, err.message);
      return reply.status(status).send({ error: { code: err.code, message: err.message } });
    }
    const fe = err as FastifyError;
    if (fe.validation !== undefined || (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)) {
      const status = fe.validation !== undefined ? 400 : fe.statusCode ?? 400;
      return reply.status(status).send({ error: { code: ServerErrorCode.BadRequest, message: fe.message } });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ error: { code: ServerErrorCode.Internal, message: 'internal error' } });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: { code: ServerErrorCode.NotFound, message: `no route ${req.method} ${req.url}` } });
  });
}
