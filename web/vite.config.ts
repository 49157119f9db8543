// The dashboard's build (docs/dashboard.md): web/ → dist/dashboard, served by `k8ts server` at
// /dashboard/ (src/dashboard/static.ts). Hashed file names under assets/ are cached for good.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    // No inline data: URLs for scripts (the CSP allows scripts from this origin only).
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
  },
});
