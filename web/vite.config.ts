import { defineConfig } from 'vite';

// Static build served by the lablog server at /; no CDN, everything bundled.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 800 },
  server: { proxy: { '/api': 'http://127.0.0.1:5000', '/ajax-api': 'http://127.0.0.1:5000', '/get-artifact': 'http://127.0.0.1:5000' } },
});
