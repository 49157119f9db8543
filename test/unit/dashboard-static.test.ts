// The dashboard's file server (src/dashboard/static.ts): exact paths, content types, caching of
// hashed assets, the CSP; an unbuilt tree says so instead of serving nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DASHBOARD_CSP, dashboardHandlers } from '../../src/dashboard/static.js';

interface Answer {
  status: number;
  headers: Record<string, string | number>;
  body?: Buffer | string;
}

function call(handlers: ReturnType<typeof dashboardHandlers>, path: string, method = 'GET'): Answer | undefined {
  const handler = handlers.get(path);
  if (!handler) return undefined;
  const answer: Answer = { status: 0, headers: {} };
  const res = {
    writeHead(status: number, headers: Record<string, string | number>) {
      answer.status = status;
      answer.headers = headers;
    },
    end(body?: Buffer | string) {
      answer.body = body;
    },
  } as unknown as ServerResponse;
  handler({ method } as IncomingMessage, res);
  return answer;
}

test('dashboard files: index at /dashboard/, hashed assets cached for good, the CSP on every file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html>');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(dir, 'assets', 'index-abc123.css'), 'body{}');
  const handlers = dashboardHandlers(dir);
  const index = call(handlers, '/dashboard/')!;
  assert.equal(index.status, 200);
  assert.equal(index.headers['Content-Type'], 'text/html; charset=utf-8');
  assert.equal(index.headers['Cache-Control'], 'no-cache');
  assert.equal(index.headers['Content-Security-Policy'], DASHBOARD_CSP);
  assert.equal(index.headers['X-Content-Type-Options'], 'nosniff');
  assert.equal(String(index.body), '<!doctype html>');
  assert.equal(call(handlers, '/dashboard/index.html')!.status, 200);
  const js = call(handlers, '/dashboard/assets/index-abc123.js')!;
  assert.equal(js.headers['Content-Type'], 'text/javascript; charset=utf-8');
  assert.equal(js.headers['Cache-Control'], 'public, max-age=31536000, immutable');
  assert.equal(
    call(handlers, '/dashboard/assets/index-abc123.css')!.headers['Content-Type'],
    'text/css; charset=utf-8',
  );
  assert.equal(call(handlers, '/dashboard/assets/index-abc123.js', 'HEAD')!.body, undefined);
  assert.equal(call(handlers, '/dashboard/assets/index-abc123.js', 'POST')!.status, 405);
  assert.equal(call(handlers, '/dashboard')!.headers.Location, '/dashboard/');
  // Only the files that exist: nothing else under /dashboard/ is handled (the API's 404 answers).
  assert.equal(call(handlers, '/dashboard/assets/other.js'), undefined);
  assert.equal(call(handlers, '/dashboard/../server/tls/ca.key'), undefined);
});

test('dashboard files: an unbuilt tree answers 503 at /dashboard/', () => {
  const handlers = dashboardHandlers(join(tmpdir(), 'no-such-dashboard-dir'));
  const answer = call(handlers, '/dashboard/')!;
  assert.equal(answer.status, 503);
  assert.match(String(answer.body), /npm run build/);
});
