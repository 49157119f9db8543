// HttpsTransport retries as client-go's REST client does: a 429 or 5xx that carries a Retry-After
// (whole seconds) is sent again after that wait, whatever the method, at most 10 times; an answer
// without the header, or another status, is the caller's at once; a GET whose connection breaks
// before the answer is sent again after a second, a write is not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { issue, loadOrCreateCA } from '../../src/machinery/pki.js';
import { HttpsTransport, MAX_RETRIES, retryAfterSeconds } from '../../src/client/https.js';
import { R } from '../../src/client/client.js';
import { ApiError } from '../../src/client/errors.js';

/** What the server does with the next requests (in order), then 200 with the object. */
type Step = { status: number; retryAfter?: string } | 'break';
let script: Step[] = [];
const seen: { method: string; url: string; body: string; at: number }[] = [];
let dir: string;
let server: Server;
let transport: HttpsTransport;

function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
  seen.push({ method: req.method ?? '', url: req.url ?? '', body, at: performance.now() });
  const step = script.shift();
  if (step === 'break') {
    req.socket.destroy();
    return;
  }
  if (step) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (step.retryAfter !== undefined) headers['retry-after'] = step.retryAfter;
    res.writeHead(step.status, headers);
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: step.status, reason: 'X' }));
    return;
  }
  res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
  if (req.url?.includes('watch=1')) {
    res.end(`${JSON.stringify({ type: 'ADDED', object: { kind: 'ConfigMap', metadata: { name: 'w' } } })}\n`);
    return;
  }
  res.end(body || JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'c' } }));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-https-retry-'));
  const ca = await loadOrCreateCA(dir);
  const serving = await issue(ca, { commonName: 'server', sans: ['127.0.0.1'], server: true });
  const client = await issue(ca, { commonName: 'client', client: true });
  server = createServer(
    { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => answer(req, res, body));
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  transport = new HttpsTransport(
    { server: url, ca: ca.certPem, cert: client.certPem, key: client.keyPem },
    { fieldManager: 'test' },
  );
});

after(async () => {
  await transport.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const cm = { resource: R.configmaps, namespace: 'default' };
const reset = (steps: Step[]) => {
  script = steps;
  seen.length = 0;
};

test('Retry-After: 429 or 5xx with integer seconds only', () => {
  assert.equal(retryAfterSeconds(429, '3'), 3);
  assert.equal(retryAfterSeconds(503, '0'), 0);
  assert.equal(retryAfterSeconds(504, ['2']), 2);
  assert.equal(retryAfterSeconds(429, '-1'), 0);
  assert.equal(retryAfterSeconds(429, undefined), undefined);
  assert.equal(retryAfterSeconds(429, 'Wed, 21 Oct 2015 07:28:00 GMT'), undefined);
  assert.equal(retryAfterSeconds(409, '1'), undefined);
  assert.equal(retryAfterSeconds(200, '1'), undefined);
});

test('a GET answered 429 is sent again after each Retry-After, then succeeds', async () => {
  reset([
    { status: 429, retryAfter: '0' },
    { status: 503, retryAfter: '0' },
    { status: 429, retryAfter: '1' },
  ]);
  const got = await transport.get({ ...cm, name: 'c' });
  assert.equal(got.metadata.name, 'c');
  assert.equal(seen.length, 4);
  const waited = seen[3].at - seen[2].at;
  assert.ok(waited >= 950, `the third retry waited the Retry-After's second (${waited.toFixed(0)} ms)`);
});

test('a POST (not idempotent) is retried after a 429 with Retry-After, with the same body', async () => {
  reset([
    { status: 429, retryAfter: '0' },
    { status: 429, retryAfter: '0' },
  ]);
  const created = await transport.create(cm, { metadata: { name: 'p' }, data: { k: 'v' } });
  assert.equal(created.metadata.name, 'p');
  assert.equal(seen.length, 3);
  assert.ok(seen.every((s) => s.method === 'POST' && s.body === seen[0].body && s.body.includes('"k":"v"')));
});

test('without Retry-After, or with another status, the error is the caller’s at once', async () => {
  reset([{ status: 429 }]);
  await assert.rejects(transport.get({ ...cm, name: 'c' }), (e: ApiError) => e.code === 429);
  assert.equal(seen.length, 1);
  reset([{ status: 409, retryAfter: '0' }]);
  await assert.rejects(
    transport.update({ ...cm, name: 'c' }, { metadata: { name: 'c' } }),
    (e: ApiError) => e.code === 409,
  );
  assert.equal(seen.length, 1);
});

test('at most 10 retries, then the 429 is returned', async () => {
  reset(Array.from({ length: 20 }, () => ({ status: 429, retryAfter: '0' })));
  await assert.rejects(transport.list(cm), (e: ApiError) => e.code === 429);
  assert.equal(seen.length, 1 + MAX_RETRIES);
});

test('a GET whose connection breaks is sent again after a second; a DELETE is not', async () => {
  reset(['break']);
  const got = await transport.get({ ...cm, name: 'c' });
  assert.equal(got.metadata.name, 'c');
  assert.equal(seen.length, 2);
  assert.ok(seen[1].at - seen[0].at >= 950);
  reset(['break']);
  await assert.rejects(transport.delete({ ...cm, name: 'c' }), (e: ApiError) => e.code === 503);
  assert.equal(seen.length, 1);
});

test('a watch answered 429 with Retry-After is made again', async () => {
  reset([{ status: 429, retryAfter: '0' }]);
  const events: string[] = [];
  const w = transport.watch(cm, {}, (ev) => events.push(ev.object.metadata.name));
  const end = await w.done;
  assert.equal(end.error, undefined);
  assert.deepEqual(events, ['w']);
  assert.equal(seen.length, 2);
});
