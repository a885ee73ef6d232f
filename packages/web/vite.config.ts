// Builds the app into dist/, which the server serves. `npx vite` in this folder is a dev server that forwards
// API calls to a running ownlm server (OWNLM_URL, default http://localhost:8080).
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/** Origins besides the page's own that chat images may load from (comma-separated), e.g. a CDN. */
const imageOrigins = (process.env.VITE_IMAGE_ORIGINS ?? '').split(',').filter(Boolean);

// A second line of defence behind the Markdown sanitizer: the built page may run only its own scripts and show
// images only from allowed origins. Build only: the dev server injects inline scripts for hot reload.
const contentSecurityPolicy: Plugin = {
  name: 'ownlm-content-security-policy',
  apply: 'build',
  transformIndexHtml: () => [
    {
      tag: 'meta',
      attrs: {
        'http-equiv': 'Content-Security-Policy',
        content: [
          "default-src 'self'",
          "script-src 'self'",
          "style-src 'self'",
          `img-src 'self' ${imageOrigins.join(' ')}`.trim(),
          "connect-src 'self'",
          "object-src 'none'",
          "base-uri 'none'",
          "form-action 'self'",
        ].join('; '),
      },
      injectTo: 'head-prepend',
    },
  ],
};

const target = process.env.OWNLM_URL ?? 'http://localhost:8080';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react(), contentSecurityPolicy],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: { proxy: { '/api': target, '/v1': target } },
});
