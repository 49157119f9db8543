// The web dashboard's files (built by Vite from web/ into dist/dashboard at `npm run build`),
// served at /dashboard/ on the API port. They hold no data, so they are served without
// authentication; the page calls the API with the signed-in user's bearer token and RBAC decides
// what it sees. Files are read once at start: a fixed set of exact paths (the page routes with
// its URL's fragment, so no other path needs the index).
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const DASHBOARD_PREFIX = '/dashboard/';

/** Where `npm run build` puts the bundle (dist/dashboard, beside dist/src). */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Scripts and styles from this origin only; API calls and WebSockets (exec, watches) to it only.
 * Inline styles are allowed because the terminal (xterm.js) sizes its rows with style elements.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}

/** Vite names the files under assets/ by their content's hash: they never change. */
function cacheControl(relativePath: string): string {
  return relativePath.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

function fileHandler(body: Buffer, contentType: string, cache: string): Handler {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    res.writeHead(200, {
      'Content-Type': contentType,
      'Content-Length': body.length,
      'Cache-Control': cache,
      'Content-Security-Policy': DASHBOARD_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/**
 * Every dashboard path and its handler: `/dashboard` redirects to `/dashboard/` (the index), the
 * other files are at their path under it. An unbuilt tree answers /dashboard/ with a 503 saying so.
 */
export function dashboardHandlers(dir = DEFAULT_DASHBOARD_DIR): Map<string, Handler> {
  const handlers = new Map<string, Handler>();
  handlers.set('/dashboard', (_req, res) => {
    res.writeHead(301, { Location: DASHBOARD_PREFIX, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`Moved Permanently: ${DASHBOARD_PREFIX}\n`);
  });
  if (!existsSync(join(dir, 'index.html')) || !statSync(dir).isDirectory()) {
    handlers.set(DASHBOARD_PREFIX, (_req, res) => {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('the dashboard was not built (npm run build builds it into dist/dashboard)\n');
    });
    return handlers;
  }
  for (const file of filesUnder(dir)) {
    const path = relative(dir, file).split(sep).join('/');
    const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
    const handler = fileHandler(readFileSync(file), type, cacheControl(path));
    handlers.set(DASHBOARD_PREFIX + path, handler);
    if (path === 'index.html') handlers.set(DASHBOARD_PREFIX, handler);
  }
  return handlers;
}
