// Builds the ops dashboard into dist/dashboard, served by the gateway at /dashboard/ (src/http/routes/dashboard.ts).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    // One small app: a single bundle is simpler to cache and serve than split chunks.
    chunkSizeWarningLimit: 1_000,
    sourcemap: false,
  },
});
