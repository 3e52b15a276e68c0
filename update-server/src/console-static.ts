import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/** Where scripts/build-console.sh puts the built console (Vite output). */
export const defaultConsoleDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'console-dist');

/**
 * Serves the built web console at `/`. The files are public (the login page
 * is among them); every API call they make goes through the guard. Without a
 * build, `/` says how to make one instead of failing obscurely.
 */
export async function registerConsole(f: FastifyInstance, dir: string = defaultConsoleDir): Promise<void> {
  if (!existsSync(join(dir, 'index.html'))) {
    f.get('/', { schema: { hide: true }, config: { access: 'public' } }, async (_req, reply) =>
      reply.type('text/plain').send('the web console is not built; run `bash scripts/build-console.sh`\n'),
    );
    return;
  }
  await f.register(async (c) => {
    c.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}), access: 'public' };
    });
    // wildcard: false routes exactly the files present at start, so no
    // request path (`..`, encoded, absolute) can name anything outside `dir`
    // (test/security/path-traversal.test.ts).
    await c.register(fastifyStatic, { root: dir, prefix: '/', wildcard: false, index: ['index.html'] });
  });
}
