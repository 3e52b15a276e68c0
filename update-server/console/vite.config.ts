import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console is built once into update-server/console-dist and served by the
// update server itself (@fastify/static); nothing is fetched from a CDN.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../console-dist', import.meta.url)),
    emptyOutDir: true,
    // The CSP forbids inline script; Vite's modulepreload polyfill would be inlined.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: 'es2022',
  },
});
